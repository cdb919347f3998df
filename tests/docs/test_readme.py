"""README.md cannot rot: its first lines, quick start, paths, commands, links and error codes are checked.

The error table is compared with the codes the code declares, found by
reading the source (exception classes' `default_code`, sessions_admin's
refusal classes, `code=` arguments and the error helpers), so a new code
without a row, or a row for a code nothing raises, fails here.
"""

import ast
import re
from pathlib import Path

import pytest
import rest_framework
import rest_framework_simplejwt
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FIRST_LINES = [
    "```sh",
    "python3 scripts/dev.py serve   # set up (.venv, .env with fresh secrets, migrate) and serve http://127.0.0.1:8000",
    "python3 scripts/dev.py test    # set up and run the whole test suite (installs Debian's chromium for the browser test)",
    "```",
]
MADE_BY_RUNNING = {"bench/profiles/"}  # bench/profile.py writes its profiles there
# Codes that never reach a client: a session export cut short mid-stream only logs its conversion's
# code (sessions_admin/export.py), and tdata_reader.py's command-line usage error stays in its subprocess.
# passkey_required is the admin-site login form's own error, shown on its HTML page.
NOT_ANSWERED = {"conversion_failed", "unknown_library", "unreadable_session", "too_large", "usage", "passkey_required"}
PROJECT_PACKAGES = ("adbot_admin", "sessions_admin", "cms")
CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$|^[a-z]+$")
# Calls whose last positional argument is an error code: exception classes and the error helpers.
ERROR_CALLEE = re.compile(r"(Error|Failed|Exception|Conflict|Unavailable|Configured|Denied|Found|Refused)$")
# The error helpers, by the position of their code argument.
ERROR_HELPERS = {"json_error": -1, "error_body": -1, "refuse": 0}


def section(title):
    """Return the text of the `## title` section, up to the next `## ` heading."""
    lines = README.splitlines()
    start = lines.index(f"## {title}")
    end, fenced = len(lines), False
    for number in range(start + 1, len(lines)):
        fenced ^= lines[number].startswith("```")
        if not fenced and re.match(r"#{1,2} ", lines[number]):
            end = number
            break
    return "\n".join(lines[start:end])


def _callee(node):
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def declared_codes(paths):
    """Return the error codes the Python files at `paths` declare, by reading their source."""
    codes = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id in ("default_code", "code") for t in statement.targets)
                        and isinstance(statement.value, ast.Constant)
                    ):
                        codes.add(statement.value.value)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                # `self.code = "..."`, as a permission names its refusal
                if any(isinstance(t, ast.Attribute) and t.attr == "code" for t in node.targets):
                    codes.add(node.value.value)
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        codes.add(keyword.value.value)
                name = _callee(node)
                position = ERROR_HELPERS.get(name, -1 if ERROR_CALLEE.search(name) else None)
                if position is not None and len(node.args) >= 2 and isinstance(node.args[position], ast.Constant):
                    codes.add(node.args[position].value)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                # ("Detail sentence.", "code") pairs of a mapping from domain errors to answers
                detail, code = node.elts
                if (
                    isinstance(detail, ast.Constant)
                    and isinstance(code, ast.Constant)
                    and isinstance(detail.value, str)
                    and " " in detail.value
                    and detail.value.endswith(".")
                ):
                    codes.add(code.value)
    return {code for code in codes if isinstance(code, str) and CODE.match(code)}


def project_sources():
    for package in PROJECT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path


def library_sources():
    yield Path(rest_framework.__file__).parent / "exceptions.py"
    # Not SimpleJWT's serializers: its login serializer's codes are replaced by signin.py's.
    for name in ("exceptions.py", "authentication.py"):
        yield Path(rest_framework_simplejwt.__file__).parent / name


def readme_codes():
    """Return {code: status} from the error table; a row may name several codes."""
    rows = {}
    for line in section("Error codes").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for code in re.findall(r"`([a-z_]+)`", cells[0]):
                rows[code] = cells[1]
    return rows


def test_the_two_commands_are_the_first_lines():
    assert README.splitlines()[:4] == FIRST_LINES


def test_the_quick_start_is_short_and_covers_a_first_session_upload():
    quick = section("Quick start")
    assert len(quick.strip().splitlines()) <= 40
    for needed in ("BIND=", "createsuperuser", "/api/auth/token", "/api/admin/sessions/upload", "-F file=@"):
        assert needed in quick, needed
    # Optional steps say so, and say when the server must be restarted.
    bullets = quick.split("\n- ")[1:]
    for step in ("hash_password", "JWT_SECRET"):
        bullet = next(bullet for bullet in bullets if step in bullet)
        assert bullet.startswith("*Optional*") and "restart" in bullet, step
    assert quick.count("restart") >= 2


def test_sections_come_in_a_newcomers_order():
    headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
    order = [
        "Quick start",
        "API",
        "Session files and API pairs",
        "CMS gallery",
        "Error codes",
        "Tests",
        "Dependencies",
        "Benchmarks",
    ]
    positions = [headings.index(title) for title in order]
    assert positions == sorted(positions), headings


def test_every_path_it_names_exists():
    named = set(
        re.findall(r"(?<![\w/.@-])((?:adbot_admin|sessions_admin|cms|tests|bench|scripts|docs)/[\w./-]*[\w/])", README)
    )
    named |= {link for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)}
    named |= set(re.findall(r"`([\w.-]+\.(?:py|md|txt|lock|toml|ini))`", README)) - {"manage.py"} | {"manage.py"}
    assert len(named) >= 20
    missing = sorted(path for path in named if not (ROOT / path).exists() and path not in MADE_BY_RUNNING)
    assert missing == []


def test_every_manage_py_command_exists():
    named = set(re.findall(r"manage\.py ([a-z_0-9]+)", README))
    assert {"createsuperuser", "hash_password", "sync_sessions", "rotate_jwt_key"} <= named
    assert sorted(named - set(get_commands())) == []


def test_every_anchor_it_links_names_a_heading():
    headings = {
        re.sub(r"[^\w\- ]", "", title).strip().lower().replace(" ", "-")
        for title in re.findall(r"^#+ (.+)$", README, flags=re.MULTILINE)
    }
    anchors = set(re.findall(r"\]\(#([\w-]+)\)", README))
    assert anchors and sorted(anchors - headings) == []


def test_the_error_table_lists_every_code_the_code_declares():
    table = readme_codes()
    declared = declared_codes(project_sources())
    assert len(declared) >= 40
    assert sorted(declared - set(table) - NOT_ANSWERED) == []


def test_every_code_in_the_error_table_is_declared_by_the_code_or_its_libraries():
    known = declared_codes(project_sources()) | declared_codes(library_sources())
    assert sorted(set(readme_codes()) - known) == []


@pytest.mark.parametrize(
    "path, attribute",
    [
        ("adbot_admin.errors", "AccountLocked"),
        ("adbot_admin.errors", "InvalidMfaCode"),
        ("adbot_admin.errors", "PayloadTooLarge"),
        ("cms.api.exceptions", "ImageBusy"),
    ],
)
def test_each_table_status_is_the_one_the_exception_answers_with(path, attribute):
    import importlib

    exception = getattr(importlib.import_module(path), attribute)
    assert readme_codes()[exception.default_code] == str(exception.status_code)


def test_each_session_file_refusal_has_its_status_in_the_table():
    from sessions_admin import errors

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    table = readme_codes()
    rows = section("Error codes")
    for refusal in subclasses(errors.Refused):
        entry_only = f"`{refusal.code}`" in next(
            line for line in rows.splitlines() if line.startswith("|") and "`refused` list" in line
        )
        assert table[refusal.code] == ("—" if entry_only else str(refusal.status_code)), refusal
