"""${VAR} in a config: read from the environment, and recorded as such so that no
message shows the value.

May import: earful.config_problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from earful.config_problems import SECRETISH, Findings, Loc

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REFERENCE_FORM = "expected ${NAME} or ${NAME:-default}"


def expand(
    value: Any, env: Mapping[str, str], where: Loc, found: Findings, secret: bool = False
) -> Any:
    """${NAME} (or ${NAME:-default}) in any string reads the environment. Records
    what came from the environment, so that it is never shown in a message."""
    if isinstance(value, dict):
        return {
            k: expand(v, env, (*where, k), found, secret or bool(SECRETISH.search(str(k))))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [expand(v, env, (*where, i), found, secret) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if "${" in value:
        value = _substitute(value, env, where, found, secret)
    if secret and value.strip():
        found.secret_keys.append((where, value))
    return value


def _substitute(
    value: str, env: Mapping[str, str], where: Loc, found: Findings, secret: bool
) -> str:
    matches = list(_VAR.finditer(value))
    starts = {m.start() for m in matches}
    for index in (i for i in range(len(value)) if value.startswith("${", i)):
        if index in starts:
            continue
        inside = any(m.start() < index < m.end() for m in matches)
        rest = value[index:]
        end = rest.find("}")
        if inside:
            what = "a ${...} default cannot hold another ${...}"
        elif end < 0:
            what = f"unterminated ${{ (no closing }}): {_REFERENCE_FORM}"
        else:
            what = (
                f"not a valid variable reference: {_REFERENCE_FORM}, NAME being letters, "
                "digits and _, not starting with a digit"
            )
        if not secret:
            fragment = rest[: end + 1] if end >= 0 else rest
            fragment = fragment if len(fragment) <= 40 else fragment[:40] + "..."
            what += f", got {fragment!r}"
        found.problem(where, what)
        found.reported.append(where)

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            found.from_env.append((where, name, env[name]))
            return env[name]
        if default is not None:
            return default
        found.unset(where, name)
        return ""

    return _VAR.sub(substitute, value)
