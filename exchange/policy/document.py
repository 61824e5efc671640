"""The policy document: parsed from TOML, validated, rendered back, diffed.

::

    [defaults]
    submit_types = ["*"]            # identifier types a member may submit
    submit_categories = ["*"]       # categories it may submit ("csam.*" matches a prefix)
    read_types = ["*"]              # types it may read (Pull, Subscribe, Lookup)
    read_categories = ["*"]         # categories it may read
    submits_per_minute = 600000     # quotas; 0 allows nothing
    lookups_per_day = 100000        # what a small member needs; the operator raises them per member
    evaluations_per_day = 10000     # OPRF evaluations: each is a guess at an identifier, so kept low
    feedback_per_day = 10000
    oprf_bulk_per_day = 0           # bulk evaluations, for a member's own match index (operator-granted)
    max_streams = 16                # streaming calls (Subscribe, Pull, SubmitStream, …) open at once, per replica
    quarantine_false_positives = 3  # [defaults] only: quarantine a signal when this many members said false_positive
    quarantine_lookup_matches = 1000  # quarantine a signal that one member's look-ups matched more often than this
    quarantine_window = 3600        # ... within this many seconds (0 in either: never)

    [members.demo-b]                # per-member overrides, key by key
    read_categories = ["sextortion.*", "grooming"]
    lookups_per_day = 50000

Audiences are groups (managed with ``sigx admin group``): a member reads a
signal only if its policy allows the signal's type and category *and* it
belongs to the signal's audience group (no audience: every member).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from client_sdk.vocab import TYPES
from exchange.errors import InvalidArgumentError, quoted

LIST_KEYS = ("submit_types", "submit_categories", "read_types", "read_categories")
QUOTA_KEYS = (
    "submits_per_minute",
    "lookups_per_day",
    "evaluations_per_day",
    "oprf_bulk_per_day",
    "feedback_per_day",
)
LIMIT_KEYS = ("max_streams",)
SAFEGUARD_KEYS = ("quarantine_false_positives", "quarantine_lookup_matches", "quarantine_window")
MAX_SAFEGUARD = 10**9
MAX_STREAMS = 100_000
MAX_QUOTA = 10**12


@dataclass(frozen=True, slots=True)
class Rules:
    """One member's effective rules (or the defaults)."""

    submit_types: tuple[str, ...] = ("*",)
    submit_categories: tuple[str, ...] = ("*",)
    read_types: tuple[str, ...] = ("*",)
    read_categories: tuple[str, ...] = ("*",)
    submits_per_minute: int = 600_000
    lookups_per_day: int = 100_000
    evaluations_per_day: int = 10_000
    feedback_per_day: int = 10_000
    oprf_bulk_per_day: int = 0  # granted by the operator to members that index their own user base
    max_streams: int = 16
    quarantine_false_positives: int = 3
    quarantine_lookup_matches: int = 1000
    quarantine_window: int = 3600

    def allows(self, key: str, value: str) -> bool:
        """Whether the list rule ``key`` admits ``value`` (``*``, exact, or ``prefix.*``)."""
        return matches(getattr(self, key), value)


def matches(patterns: Iterable[str], value: str) -> bool:
    return any(p == "*" or p == value or (p.endswith(".*") and value.startswith(p[:-1])) for p in patterns)


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """Defaults plus per-member overrides (only the keys each member sets)."""

    defaults: Rules = field(default_factory=Rules)
    members: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rules_for(self, member_id: str) -> Rules:
        overrides = self.members.get(member_id)
        return replace(self.defaults, **overrides) if overrides else self.defaults

    def render(self) -> str:
        """Canonical TOML: sorted, one key per line (what ``policy show`` prints and diffs compare)."""
        lines = ["[defaults]"]
        lines += [f"{f.name} = {_value(getattr(self.defaults, f.name))}" for f in fields(Rules)]
        for member in sorted(self.members):
            lines += ["", f"[members.{_key(member)}]"]
            lines += [f"{k} = {_value(v)}" for k, v in sorted(self.members[member].items())]
        return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    return name if all(c.isalnum() or c in "-_" for c in name) else '"' + name.replace('"', '\\"') + '"'


def _value(v: object) -> str:
    if isinstance(v, tuple | list):
        return "[" + ", ".join(f'"{x}"' for x in v) + "]"
    return str(v)


def _rules_fields(where: str, table: Mapping[str, Any], categories: Iterable[str]) -> dict[str, Any]:
    known = set(categories)
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{where}.{key}"
        if key in LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise InvalidArgumentError(f"policy {path}: expected a list of strings", reason="policy_invalid")
            for item in value:
                if item == "*":
                    continue
                if key.endswith("_types") and item not in TYPES:
                    raise InvalidArgumentError(f"policy {path}: unknown type {quoted(item)}", reason="policy_invalid")
                if key.endswith("_categories") and not (
                    item in known or (item.endswith(".*") and any(c.startswith(item[:-1]) for c in known))
                ):
                    raise InvalidArgumentError(
                        f"policy {path}: unknown category {quoted(item)}", reason="policy_invalid"
                    )
            out[key] = tuple(value)
        elif key in QUOTA_KEYS:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_QUOTA:
                raise InvalidArgumentError(
                    f"policy {path}: expected a whole number from 0 to {MAX_QUOTA}", reason="policy_invalid"
                )
            out[key] = value
        elif key in LIMIT_KEYS:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_STREAMS:
                raise InvalidArgumentError(
                    f"policy {path}: expected a whole number from 0 to {MAX_STREAMS}", reason="policy_invalid"
                )
            out[key] = value
        elif key in SAFEGUARD_KEYS:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SAFEGUARD:
                raise InvalidArgumentError(
                    f"policy {path}: expected a whole number from 0 to {MAX_SAFEGUARD}", reason="policy_invalid"
                )
            out[key] = value
        else:
            raise InvalidArgumentError(f"policy {path}: unknown key", reason="policy_invalid")
    return out


def parse(text: str, members: Iterable[str], categories: Iterable[str]) -> PolicyDocument:
    """Parse and validate a policy; raises InvalidArgumentError naming the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgumentError(f"policy is not valid TOML: {exc}", reason="policy_invalid") from None
    cats = list(categories)
    unknown = set(data) - {"defaults", "members"}
    if unknown:
        raise InvalidArgumentError(f"policy: unknown table {quoted(sorted(unknown)[0])}", reason="policy_invalid")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InvalidArgumentError("policy defaults: expected a table", reason="policy_invalid")
    rules = replace(Rules(), **_rules_fields("defaults", defaults, cats))
    known_members = set(members)
    per_member: dict[str, dict[str, Any]] = {}
    member_tables = data.get("members", {})
    if not isinstance(member_tables, dict):
        raise InvalidArgumentError("policy members: expected tables", reason="policy_invalid")
    for name, table in member_tables.items():
        if name not in known_members:
            raise InvalidArgumentError(f"policy members.{name}: no such member", reason="policy_invalid")
        if not isinstance(table, dict):
            raise InvalidArgumentError(f"policy members.{name}: expected a table", reason="policy_invalid")
        per_member[name] = _rules_fields(f"members.{name}", table, cats)
    return PolicyDocument(rules, per_member)


def diff(old: PolicyDocument, new: PolicyDocument) -> str:
    """A unified diff of the canonical renderings ("" when they are the same)."""
    return "".join(
        difflib.unified_diff(
            old.render().splitlines(keepends=True),
            new.render().splitlines(keepends=True),
            fromfile="policy in force",
            tofile="policy to apply",
        )
    )
