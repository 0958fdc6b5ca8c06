"""``simple_table`` prints what tabulate prints (plain and github), or leaves the table to tabulate."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from sccli.cli.render import simple_table

TRICKY = [
    "",
    "0",
    "42.0",
    "0.25",
    "-1.5",
    "1234567.5",
    "0.00001",
    "-0.0",
    "-3",
    "+4",
    "007",
    "0.5",
    "1e5",
    "1_000",
    "1,000",
    "inf",
    "nan",
    "True",
    "False",
    " 5",
    "a  b",
    "x|y",
    "é",
    "█ 50%",
    "line1\nline2",
    "tab\there",
    "2026-12-01 10:25:41",
    "550e8400-e29b-41d4-a716-446655440000",
    "pending",
    "-",
    "None",
    "0x10",
]
CELL = st.one_of(
    st.sampled_from(TRICKY), st.integers(-(10**6), 10**12).map(str), st.text(alphabet="abc -_:.|0123", max_size=8)
)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(CELL, min_size=n, max_size=n), st.lists(st.lists(CELL, min_size=n, max_size=n), max_size=5)
        )
    ),
    st.booleans(),
)
def test_simple_table_is_tabulate_or_declines(table: tuple[list[str], list[list[str]]], github: bool) -> None:
    heads, rows = table
    mine = simple_table(rows, heads, github=github)
    assert mine is None or mine == tabulate(rows, heads, tablefmt="github" if github else "plain")


def test_a_job_listing_is_printed_without_tabulate() -> None:
    heads = ["JOB ID", "TYPE", "STATUS", "PRIO", "TRIES", "DATASET", "CREATED", "%"]
    rows = [
        [
            "7c61e45a-91bb-4a00-8aa6-4d2b7dfa0a33",
            "dataset_conversion",
            "pending",
            "1",
            "0",
            "1f0ef3ff-5df9-4495-8e32-ee73db60f6e3",
            "2026-12-01 10:25:41",
            "0",
        ],
        ["8d61e45a-91bb-4a00-8aa6-4d2b7dfa0a33", "data_validation", "failed", "3", "12", "", "2026-12-01 10:25:42", ""],
    ]
    for github in (False, True):
        assert simple_table(rows, heads, github=github) == tabulate(
            rows, heads, tablefmt="github" if github else "plain"
        )
    assert simple_table([], heads) == tabulate([], heads, tablefmt="plain") and simple_table([["1e5"]], ["X"]) is None
