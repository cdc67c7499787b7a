"""Benchmark data: seeded, realistic, and its invalid/changed shares are what was asked."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lakehouse.bench.data import HEADER, changed, population, write_member_file


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_member_file(population(2_000, seed=3), a, invalid_share=0.1, seed=9)
    write_member_file(population(2_000, seed=3), b, invalid_share=0.1, seed=9)
    assert a.read_bytes() == b.read_bytes()
    write_member_file(population(2_000, seed=4), b, invalid_share=0.1, seed=9)
    assert a.read_bytes() != b.read_bytes()


def test_values_look_like_member_extracts(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_member_file(population(5_000, seed=1), path)
    frame = _read(path)
    assert tuple(frame.columns) == HEADER and frame.height == 5_000
    assert frame["MemberID"].str.contains(r"^BM[0-9]{9}$").all()
    assert frame["MemberID"].n_unique() == 5_000
    # several spellings of the same kinds of value
    phones = frame["Phone"].drop_nulls()
    assert phones.str.contains(r"^\(\d{3}\) \d{3}-\d{4}$").any()
    assert phones.str.contains(r"^\+1 \d{3} \d{3} \d{4}$").any()
    assert frame["DOB"].str.contains(r"^\d{4}-\d{2}-\d{2}$").any()
    assert frame["DOB"].str.contains(r"^\d{2}/\d{2}/\d{4}$").any()
    assert frame["Email"].drop_nulls().str.contains(r"@(mail\.)?example\.(com|org|net)$").all()
    assert frame["FirstName"].n_unique() > 500  # Faker vocabulary, not a handful of names
    assert 0.05 < frame["Phone"].null_count() / frame.height < 0.15


def test_invalid_share_is_close_to_requested(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    write_member_file(population(20_000, seed=1), path, invalid_share=0.1, seed=2)
    frame = _read(path)
    broken = (
        ~frame["MemberID"].str.contains(r"^BM[0-9]{9}$")
        | (frame["Plan"] == "PLATINUM")
        | frame["DOB"].is_in(["31/31/1999", "2099-01-01"])
        | frame["LastName"].is_null()
        | (frame["Phone"] == "12345").fill_null(False)
    )
    assert 0.09 < broken.sum() / frame.height < 0.11


def test_changed_members_differ_and_keep_their_ids(tmp_path: Path) -> None:
    members = population(10_000, seed=5)
    delta = changed(members, 1_000, seed=6)
    assert delta.size == 1_000
    original = members.frame.join(delta.frame, on="num", suffix="_new")
    assert original.height == 1_000
    same = (original["phone"] % 10_000 == original["phone_new"] % 10_000) & (
        original["plan"] == original["plan_new"]
    )
    assert not same.any()  # the masked phone (last four digits) or the plan changed
    assert (original["phone_new"] != original["phone"]).sum() > 400
