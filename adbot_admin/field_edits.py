"""Setting a row's editable fields from validated data: the first step of every update service."""


def fields_assign(instance, data, *, editable) -> bool:
    """Set and validate the fields in `data` on `instance`; return False when `data` is empty (nothing to save).

    Keys outside `editable` raise ValueError (a programming error: callers pass
    validated data); invalid values raise Django's ValidationError.
    """
    unknown = set(data) - set(editable)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in data.items():
        setattr(instance, name, value)
    instance.clean_fields(exclude=[field.name for field in instance._meta.fields if field.name not in data])
    return bool(data)
