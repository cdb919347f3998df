import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...checks import key_problem
from ...env_file import EnvFileError, env_file_read, env_file_rewrite, env_file_write
from ...settings import split_keys
from ...tokens import key_id

KINDS = {
    False: ("JWT_SECRET_KEY", "JWT_SECRET_KEY_FALLBACKS"),
    True: ("JWT_SECRET", "JWT_SECRET_FALLBACKS"),
}


class Command(BaseCommand):
    help = (
        "Rotate the backend token key (JWT_SECRET_KEY), or with --frontend the frontend's (JWT_SECRET): a new "
        "random key becomes the current one and the old current key goes first in the fallbacks "
        "(JWT_SECRET_KEY_FALLBACKS / JWT_SECRET_FALLBACKS), which still verify the tokens it signed. "
        "--retire KID drops the fallback with that kid instead, once its tokens have expired. "
        "Without --write, prints the new key's line and says what the fallbacks become; "
        "with --write PATH, rewrites that .env file atomically (mode 0600), keeping every other line. "
        "Keys already in use are named by their kid only, never printed."
    )
    # A weak key must be rotatable: the checks that refuse it must not stop this command.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--frontend", action="store_true", help="rotate JWT_SECRET instead of JWT_SECRET_KEY")
        parser.add_argument("--write", metavar="PATH", help="rewrite this .env file instead of printing")
        parser.add_argument("--retire", metavar="KID", help="drop the fallback with this kid; no new key")

    def handle(self, *args, frontend=False, write=None, retire=None, **options):
        name, fallbacks_name = KINDS[frontend]
        current, fallbacks = self.configured(name, fallbacks_name, write)
        if retire is not None:
            new_current, new_fallbacks = current, self.retired(name, current, fallbacks, retire)
        else:
            new_current = secrets.token_urlsafe(48)
            assert key_problem(new_current) is None
            if "," in current:
                raise CommandError(
                    f"{name} holds a comma, so it cannot be listed in {fallbacks_name}; replace it by hand."
                )
            new_fallbacks = [key for key in [current, *fallbacks] if key]
        values = {name: new_current, fallbacks_name: ",".join(new_fallbacks)}
        if write is None:
            self.print_lines(name, fallbacks_name, current, new_current, new_fallbacks, retire)
        else:
            self.write_file(write, values, fallbacks_name, name)
            self.stdout.write(f"Wrote {write}: {self.summary(name, fallbacks_name, new_current, new_fallbacks)}")
        self.stdout.write(self.next_steps(name, fallbacks_name, frontend, write, retire, new_fallbacks))

    def configured(self, name, fallbacks_name, path):
        """Return the current key and the fallbacks, from the file at `path` or else from the settings."""
        if path is None:
            return getattr(settings, name), list(getattr(settings, fallbacks_name))
        try:
            values = env_file_read(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        if name == "JWT_SECRET_KEY" and not values.get(name):
            raise CommandError(f"{path} sets no {name}; rotate the file that does.")
        return values.get(name, ""), split_keys(values.get(fallbacks_name, ""))

    def retired(self, name, current, fallbacks, kid):
        """Return `fallbacks` without the one whose kid is `kid`; raise CommandError when none has it."""
        if current and key_id(current) == kid:
            raise CommandError(f"{kid} is the current {name}; rotate first, then retire it.")
        kept = [key for key in fallbacks if key_id(key) != kid]
        if len(kept) == len(fallbacks):
            known = ", ".join(key_id(key) for key in fallbacks) or "none"
            raise CommandError(f"No fallback has kid {kid!r}; the fallbacks' kids are: {known}.")
        return kept

    def summary(self, name, fallbacks_name, current, fallbacks):
        kids = ", ".join(key_id(key) for key in fallbacks) or "none"
        return f"{name} has kid {key_id(current)}; {fallbacks_name} has kids {kids}."

    def print_lines(self, name, fallbacks_name, old, new, fallbacks, retire):
        kids = ", ".join(key_id(key) for key in fallbacks) or "none"
        if retire is None:
            self.stdout.write(f"{name}={new}")
            if old:
                self.stdout.write(
                    f"# {fallbacks_name}: put the old {name} (kid {key_id(old)}) first, "
                    f"keeping the others in order; its kids become: {kids}."
                )
        else:
            self.stdout.write(f"# {fallbacks_name}: remove the key with kid {retire}; its kids become: {kids}.")
        self.stdout.write("# The keys already in use are not printed; --write PATH rewrites a .env file with them.")

    def write_file(self, path, values, fallbacks_name, name):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            env_file_write(path, env_file_rewrite(text, values, after={fallbacks_name: name}))
        except EnvFileError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None

    def next_steps(self, name, fallbacks_name, frontend, write, retire, fallbacks):
        steps = "Restart the app processes."
        if frontend and retire is None:
            steps += " Then give the frontend the new JWT_SECRET."
        if retire is None and fallbacks:
            wait = (
                "FRONTEND_TOKEN_MAX_AGE seconds after the frontend switched"
                if frontend
                else ("REFRESH_TOKEN_EXPIRE_MINUTES (the longest token lifetime)")
            )
            command = " ".join(
                [
                    "python manage.py rotate_jwt_key",
                    *(["--frontend"] if frontend else []),
                    "--retire",
                    key_id(fallbacks[0]),
                    *(["--write", write] if write else []),
                ]
            )
            steps += f" Retire the old key after {wait}: `{command}`"
        return steps
