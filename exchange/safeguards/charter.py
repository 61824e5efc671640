"""The charter: rules above every member policy, by member kind.

The operator declares each member's kind when adding it (``sigx admin member add --kind``); the charter, a
JSON or YAML file applied with ``sigx admin charter apply``, says what each kind may never do, whatever a
member's policy says::

    kinds: [platform, payment_provider, ngo, hotline, government, research]
    forbid:                        # kind -> actions it may never take
      government: ["*"]            # submit, read, lookup, feedback, pseudonymise, directory, log, or "*"
    categories:                    # category (or "prefix.*") -> the only kinds that may submit or read it
      "csam.*": [platform, hotline, ngo]
    min_submitters:                # these kinds see a category only once that many members submitted the value
      - categories: [grooming]
        kinds: [research]
        submitters: 2

Without an applied charter the default is in force: every kind above is known and ``government`` may do
nothing. A charter that contradicts itself is INVALID_ARGUMENT naming the rules; a member policy that grants
a member what the charter denies its kind is refused at ``policy apply`` (FAILED_PRECONDITION naming the
rule). ``min_submitters`` applies to look-ups (where the exchange counts the distinct submitters of the
value among what the reader may see); those kinds do not receive the category in Pull or Subscribe at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from exchange.errors import FailedPreconditionError, InvalidArgumentError, quoted
from exchange.policy.document import PolicyDocument, matches

ACTIONS = ("submit", "read", "lookup", "feedback", "pseudonymise", "directory", "log")
DEFAULT_KINDS = ("platform", "payment_provider", "ngo", "hotline", "government", "research")
_KEYS = ("kinds", "forbid", "categories", "min_submitters")
MAX_SUBMITTERS = 1000

#: What each policy list or quota grants, by the charter action that can forbid it.
_POLICY_GRANTS: dict[str, tuple[str, ...]] = {
    "submit": ("submit_types", "submit_categories", "submits_per_minute"),
    "read": ("read_types", "read_categories"),
    "lookup": ("lookups_per_day",),
    "feedback": ("feedback_per_day",),
    "pseudonymise": ("evaluations_per_day", "oprf_bulk_per_day"),
}


@dataclass(frozen=True, slots=True)
class Corroboration:
    """``min_submitters`` rule: ``kinds`` see ``categories`` only with ``submitters`` distinct submitters."""

    categories: tuple[str, ...]
    kinds: tuple[str, ...]
    submitters: int


@dataclass(frozen=True, slots=True)
class Charter:
    kinds: tuple[str, ...] = DEFAULT_KINDS
    forbid: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"government": ("*",)})
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    min_submitters: tuple[Corroboration, ...] = ()

    # -- decisions ----------------------------------------------------------------

    def forbids(self, kind: str, action: str) -> bool:
        """Whether members of ``kind`` may never take ``action``."""
        denied = self.forbid.get(kind, ())
        return "*" in denied or action in denied

    def category_rule(self, kind: str, category: str) -> str | None:
        """The ``categories`` rule that keeps ``kind`` from ``category`` (None: the kind may use it)."""
        for pattern, kinds in self.categories.items():
            if matches((pattern,), category) and kind not in kinds:
                return pattern
        return None

    def denied_under(self, kind: str, pattern: str, categories: Iterable[str]) -> str | None:
        """The ``categories`` rule that keeps ``kind`` from some category ``pattern`` covers (None: none)."""
        for category in sorted(categories):
            if matches((pattern,), category):
                rule = self.category_rule(kind, category)
                if rule is not None:
                    return rule
        return None

    def submitters_needed(self, kind: str, category: str) -> int:
        """Distinct submitters a value of ``category`` needs before ``kind`` sees it (1: none needed)."""
        need = 1
        for rule in self.min_submitters:
            if kind in rule.kinds and matches(rule.categories, category):
                need = max(need, rule.submitters)
        return need

    # -- rendering ----------------------------------------------------------------

    def render(self) -> str:
        """Canonical JSON (what ``charter show`` prints)."""
        data = {
            "kinds": list(self.kinds),
            "forbid": {k: list(v) for k, v in sorted(self.forbid.items())},
            "categories": {k: list(v) for k, v in sorted(self.categories.items())},
            "min_submitters": [
                {"categories": list(r.categories), "kinds": list(r.kinds), "submitters": r.submitters}
                for r in self.min_submitters
            ],
        }
        return json.dumps(data, indent=2) + "\n"


DEFAULT_CHARTER = Charter()


def digest(document: str) -> bytes:
    """SHA-256 of a charter document's UTF-8 bytes (what the logged change carries)."""
    return hashlib.sha256(document.encode()).digest()


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"charter {message}", reason="charter_invalid")


def _names(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise _invalid(f"{where}: expected a list of names")
    if len(set(value)) != len(value):
        raise _invalid(f"{where}: a name is listed twice")
    return tuple(value)


def _pattern(where: str, value: str, categories: set[str]) -> str:
    known = value in categories or (value.endswith(".*") and any(c.startswith(value[:-1]) for c in categories))
    if not known:
        raise _invalid(f"{where}: unknown category {quoted(value)}")
    return value


def parse(text: str, categories: Iterable[str]) -> Charter:
    """Parse and validate a charter (JSON or YAML); raises InvalidArgumentError naming the rule at fault,
    also when two rules contradict each other."""
    try:
        data = yaml.safe_load(text)  # YAML 1.1 reads JSON documents too
    except yaml.YAMLError as exc:
        raise _invalid(f"is neither JSON nor YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise _invalid("must be a mapping of kinds, forbid, categories and min_submitters")
    unknown = sorted(set(map(str, data)) - set(_KEYS))
    if unknown:
        raise _invalid(f"has an unknown key {quoted(unknown[0])}")
    cats = set(categories)
    kinds = _names("kinds", data.get("kinds", list(DEFAULT_KINDS)))
    if not kinds:
        raise _invalid("kinds: names no kind")

    def known_kinds(where: str, value: object) -> tuple[str, ...]:
        names = _names(where, value)
        for k in names:
            if k not in kinds:
                raise _invalid(f"{where}: {quoted(k)} is not one of the charter's kinds")
        return names

    forbid: dict[str, tuple[str, ...]] = {}
    raw_forbid = data.get("forbid", {}) or {}
    if not isinstance(raw_forbid, dict):
        raise _invalid("forbid: expected kind: [actions]")
    for kind, actions in raw_forbid.items():
        if kind not in kinds:
            raise _invalid(f"forbid.{kind}: {quoted(kind)} is not one of the charter's kinds")
        acts = _names(f"forbid.{kind}", actions)
        for a in acts:
            if a != "*" and a not in ACTIONS:
                raise _invalid(f"forbid.{kind}: unknown action {quoted(a)} (one of {', '.join(ACTIONS)} or *)")
        forbid[kind] = acts
    result = Charter(kinds, forbid)

    restricted: dict[str, tuple[str, ...]] = {}
    raw_cats = data.get("categories", {}) or {}
    if not isinstance(raw_cats, dict):
        raise _invalid("categories: expected category: [kinds]")
    for pattern, allowed in raw_cats.items():
        where = f"categories.{pattern}"
        _pattern(where, str(pattern), cats)
        names = known_kinds(where, allowed)
        if not names:
            raise _invalid(f"{where}: names no kind (no one could use the category)")
        for k in names:
            if result.forbids(k, "submit") and result.forbids(k, "read") and result.forbids(k, "lookup"):
                raise _invalid(f"{where} allows {k}, which forbid.{k} keeps from submitting, reading and looking up")
        restricted[str(pattern)] = names
    result = Charter(kinds, forbid, restricted)
    for category in sorted(cats):
        rules = [p for p in restricted if matches((p,), category)]
        if len(rules) > 1 and not set.intersection(*(set(restricted[p]) for p in rules)):
            raise _invalid(f"categories.{rules[0]} and categories.{rules[1]} leave no kind that may use {category}")

    corroboration: list[Corroboration] = []
    raw_min = data.get("min_submitters", []) or []
    if not isinstance(raw_min, list):
        raise _invalid("min_submitters: expected a list of rules")
    for i, rule in enumerate(raw_min):
        where = f"min_submitters[{i}]"
        if not isinstance(rule, dict) or set(rule) != {"categories", "kinds", "submitters"}:
            raise _invalid(f"{where}: expected categories, kinds and submitters")
        patterns = tuple(_pattern(where, p, cats) for p in _names(f"{where}.categories", rule["categories"]))
        names = known_kinds(f"{where}.kinds", rule["kinds"])
        n = rule["submitters"]
        if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= MAX_SUBMITTERS:
            raise _invalid(f"{where}.submitters: expected a whole number from 2 to {MAX_SUBMITTERS}")
        for k in names:
            if result.forbids(k, "lookup"):
                raise _invalid(f"{where} applies to {k}, which forbid.{k} keeps from looking up")
            for p in patterns:
                denied = result.denied_under(k, p, cats)
                if denied is not None:
                    raise _invalid(f"{where} gives {k} category {p}, which categories.{denied} keeps from it")
        corroboration.append(Corroboration(patterns, names, n))
    return Charter(kinds, forbid, restricted, tuple(corroboration))


def check_kind(charter: Charter, kind: str) -> str:
    """``kind`` if the charter knows it; InvalidArgumentError otherwise."""
    if kind not in charter.kinds:
        raise InvalidArgumentError(
            f"kind {quoted(kind)} is not one of the charter's kinds ({', '.join(charter.kinds)})", reason="bad_kind"
        )
    return kind


def check_policy(charter: Charter, policy: PolicyDocument, kinds: Mapping[str, str], categories: Iterable[str]) -> None:
    """Refuse (FAILED_PRECONDITION naming the rule) a policy whose member table grants a member what the
    charter denies its kind: a forbidden action, or a category the kind may not use. ``*`` and the
    defaults grant only what the charter allows, so they never contradict it."""
    cats = list(categories)
    for member, table in sorted(policy.members.items()):
        kind = kinds.get(member, "")
        if not kind:
            continue
        for action, keys in _POLICY_GRANTS.items():
            if not charter.forbids(kind, action):
                continue
            for key in keys:
                value = table.get(key)
                if value:  # a non-empty list or a non-zero quota
                    raise FailedPreconditionError(
                        f"policy members.{member}.{key} contradicts charter forbid.{kind}: members of kind {kind}"
                        f" may not {action}",
                        reason="charter",
                    )
        for key in ("submit_categories", "read_categories"):
            for granted in table.get(key, ()):
                if granted == "*":
                    continue
                rule = charter.denied_under(kind, granted, cats)
                if rule is not None:
                    raise FailedPreconditionError(
                        f"policy members.{member}.{key} grants {quoted(granted)}, which charter categories.{rule}"
                        f" allows only to {', '.join(charter.categories[rule])}, not to {kind}",
                        reason="charter",
                    )


def check_members(charter: Charter, kinds: Mapping[str, str]) -> None:
    """Refuse (FAILED_PRECONDITION) a charter that does not know the kind of a member in the directory."""
    for member, kind in sorted(kinds.items()):
        if kind and kind not in charter.kinds:
            raise FailedPreconditionError(
                f"member {member} is of kind {kind}, which the charter's kinds leave out; change its kind first",
                reason="charter",
            )


def from_store(version: int, text: str, categories: Iterable[str]) -> Charter:
    """The charter a store holds (the default when none was applied)."""
    return parse(text, categories) if version and text else DEFAULT_CHARTER


def as_dict(charter: Charter) -> dict[str, Any]:
    return json.loads(charter.render())  # type: ignore[no-any-return]
