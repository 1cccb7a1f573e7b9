"""Statistical disclosure control for tables about graduates in difficulty.

Tables about groups in difficulty (脱贫家庭, 低保家庭, 零就业家庭, 残疾, ...) are protected by
:func:`protect_group_table` before they are shown in a notebook or written to ``reports/``.
Placement rates of whole universities and majors are NOT passed through this module: the
department needs them exact, and they are always shown with their n (see ``docs/privacy.md``).

One row of a group table is one cell: a group (``group_col``) within a unit (``total_keys``, e.g.
one university, or ``ALL`` for the province). Its values are the group size ``n`` (``count_col``,
always shown), the number with the outcome ``x`` (``placed_col``), the complement ``n - x``
(added as ``complement_col``) and the rates (``rate_cols``). Given ``n``, the values ``x``,
``n - x`` and the rate are equivalent, so they are shown or hidden together. Rules (policy
``disclosure`` section, thresholds from the policy file, never literals):

1. ``n < min_group_for_rate``: hidden ("—"): rate, ``x`` and ``n - x``.
2. ``n < top_bottom_code_below`` and rate <= ``bottom_code``: bottom coded, rate shown as
   "<=5%"; ``x`` and ``n - x`` hidden.
3. ``n < top_bottom_code_below`` and rate >= ``top_code``: top coded, rate shown as ">=95%";
   ``x`` hidden, ``n - x`` shown as "<5" when it is below ``min_count_shown`` (else hidden).
4. ``n - x < min_count_shown`` (zero included: "all of them placed" is an attribute disclosure
   too): ``n - x`` shown as "<5", ``x`` hidden, the rate shown as the bound it implies
   (">=98.6%" for n = 290), which depends on ``n`` only.
5. Complementary suppression, repeated until nothing changes:
   - across units: for each group (and ``by`` columns), the unit rows add up to the total row
     (``ALL``; the province total of a group is published anyway). A line with exactly one
     non-exact cell gets a second one: the smallest other unit cell with ``n > 0``; if there is
     none, the total row is hidden instead.
   - two-category rule: categories listed together in ``partitions`` (e.g. ``("男", "女")``, or
     a group and its complement) add up to the unit's total, which is published elsewhere.
     A unit with exactly one non-exact category gets a second one (the smallest other).

A hidden value is never written as 0: numeric cells become NA (empty in CSV), ``suppressed``
holds the reason in Chinese, and ``<col>_display`` columns hold what a reader sees ("87.5%",
"—", "<5", ">=95%", "<=5%", "不适用" for an empty group). Every decision is recorded as an audit
record (the caller's ``audit`` list, ``df.attrs["disclosure_audit"]`` and the module-level
collector written by :func:`flush_audit` under ``data/processed/<as_of>/``, never ``reports/``).

Protect the complete table (every university and the ``ALL`` rows) and select rows afterwards:
protecting a subset on its own cannot see the other cells of a total.
"""

from helpers.disclosure.audit import (
    AUDIT_COLUMNS,
    audit_dir,
    audit_frame,
    flush_audit,
    merge_audit,
    reset_audit,
)
from helpers.disclosure.display import HIDDEN, NOT_APPLICABLE, for_display, legend, show
from helpers.disclosure.protect import (
    COMPLEMENT_HEADERS,
    DISPLAY_SUFFIX_ZH,
    LINKED_COLS,
    RULES,
    TOTAL_LABEL,
    GroupTable,
    protect_group_table,
)

__all__ = [
    "AUDIT_COLUMNS",
    "COMPLEMENT_HEADERS",
    "DISPLAY_SUFFIX_ZH",
    "HIDDEN",
    "LINKED_COLS",
    "NOT_APPLICABLE",
    "RULES",
    "TOTAL_LABEL",
    "GroupTable",
    "audit_dir",
    "audit_frame",
    "flush_audit",
    "for_display",
    "legend",
    "merge_audit",
    "protect_group_table",
    "reset_audit",
    "show",
]
