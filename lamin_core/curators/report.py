"""What a curator found, per key, and how it is told: log lines and the ValidationError text.

The log follows LaminDB's guide (``✓ "cell_medium" is validated against ULabel.name``); a failing
key says which values fail, what they are close to, and the call that fixes it. The same
findings make the ValidationError of `save_artifact`, so the log and the error never disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lamin_core.bio.matching import MatchResult
from lamin_core.curators.keys import CuratedKey, Distinct
from lamin_core.errors import quoted, with_suggestions

__all__ = ["KeyReport", "error_text", "log_report", "logger", "quoted"]

logger = logging.getLogger("lamin_core.curators")
SHOW = 20


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass
class KeyReport:
    """The verdict on one key: its distinct values, how they matched, and structural problems."""

    key: CuratedKey
    found: Distinct
    match: MatchResult = field(default_factory=lambda: MatchResult(""))
    dtype_problems: dict[str, str] = field(default_factory=dict)
    # value -> the record it names (registries with types: the shallowest level's record)
    records: dict[Any, Any] = field(default_factory=dict)
    # value -> why it names several records at one level (see lamin_core.query.levels)
    ambiguous: dict[Any, str] = field(default_factory=dict)

    @property
    def is_validated(self) -> bool:
        """Whether every value is in the registry (or its public source) and nothing is wrong.

        A lenient key (`CuratedKey.strict` False) validates when at least one value does.
        """
        if self.found.problem is not None or self.dtype_problems or self.ambiguous:
            return False
        return not self._failing_values()

    def _failing_values(self) -> list[Any]:
        """The registry misses that fail the key: all of a strict key's, a lenient key's if all."""
        missed = list(self.match.non_validated)
        return missed if self.key.strict or len(missed) == len(self.found.values) else []

    @property
    def ignored(self) -> list[str]:
        """The values of a lenient key that do not validate (they are left unannotated)."""
        return [] if self.key.strict else [str(v) for v in self.match.non_validated]

    @property
    def non_validated(self) -> list[str]:
        """The values that fail, as strings."""
        values = list(self.found.bad_values or []) + self._failing_values()
        values += [name for name in self.dtype_problems if name not in values]
        values += [value for value in self.ambiguous if value not in values]
        return [str(v) for v in dict.fromkeys(values)]

    def fix(self) -> str:
        """Return the call that fixes the non-validated values of this key."""
        name = self.key.name
        if self.key.name == "columns":
            return (
                f"create the features (ln.Feature(name=..., dtype=...).save()) or run "
                f'curator.add_new_from("{name}")'
            )
        return f'fix typos, remove the values, or add them with curator.add_new_from("{name}")'

    def failure_lines(self) -> list[str]:
        """Return one line per problem of the key (empty when it validates)."""
        key, lines = self.key, []
        if self.found.problem is not None:
            lines.append(self.found.problem)
        for column, reason in self.dtype_problems.items():
            # a reason is a clause ("not in dataframe", "is out of order") or a sentence
            if reason.startswith(("Column ", "Index ", "expected ")):  # names the column
                lines.append(reason)
                continue
            joint = ": " if reason.startswith(("the ", "non-nullable ")) else " "
            lines.append(f"column {column!r}{joint}{reason}")
        lines += list(self.ambiguous.values())
        failing = self._failing_values()
        if failing and key.feature is not None and key.name != "columns":
            lines.append(  # LaminDB's summary of a feature's failing values
                f"{_plural(len(failing), 'term')} not validated in feature {key.name!r}: "
                f"{quoted(failing)}"
            )
        plain = [v for v in failing if v not in self.match.synonyms]
        if self.match.synonyms and failing:
            pairs = ", ".join(f"{k!r} → {v!r}" for k, v in list(self.match.synonyms.items())[:SHOW])
            lines.append(
                f"{_plural(len(self.match.synonyms), 'synonym')} of {key.label}: {pairs}; "
                f'standardize with curator.standardize("{key.name}")'
            )
        if plain:
            described = [
                with_suggestions(value, self.match.suggestions.get(value)) for value in plain[:SHOW]
            ]
            more = f", ... ({len(plain)} in total)" if len(plain) > SHOW else ""
            lines.append(
                f"{_plural(len(plain), 'term')} not validated in {key.place}: "
                f"{', '.join(described)}{more}; not in {key.label}: {self.fix()}"
            )
        return lines


def log_report(report: KeyReport, *, quiet_success: bool = False) -> None:
    """Log the verdict on one key in the guide's style."""
    key = report.key
    if report.found.n_missing:
        logger.warning(
            '! "%s" has %s (None/NaN); they are ignored: not validated and not linked',
            key.name,
            _plural(report.found.n_missing, "missing value"),
        )
    if report.is_validated:
        if report.ignored:
            logger.info(
                '! %s of "%s" not in %s, not validated and not annotated: %s',
                _plural(len(report.ignored), "value"), key.name, key.label, quoted(report.ignored),
            )  # fmt: skip
        if not quiet_success:
            logger.info('✓ "%s" is validated against %s', key.name, key.label)
        return
    logger.warning('✗ "%s" is not validated against %s', key.name, key.label)
    for line in report.failure_lines():
        logger.warning("    → %s", line)


def error_text(reports: list[KeyReport]) -> str:
    """Return the ValidationError message for the failing keys."""
    failing = [r for r in reports if not r.is_validated]
    lines = [
        f"The dataset does not validate ({_plural(len(failing), 'key')} failing); nothing was "
        "saved."
    ]
    for report in failing:
        for line in report.failure_lines():
            lines.append(f'  "{report.key.name}" ({report.key.label}): {line}')
    return "\n".join(lines)
