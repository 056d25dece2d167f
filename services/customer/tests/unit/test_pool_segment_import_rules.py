"""Pure rules of the pool, segment exports and bulk-import parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tessera_customer.imports.parsing import (
    HeaderError,
    RowError,
    check_csv_header,
    csv_field,
    csv_record,
    read_csv,
    read_ndjson,
    validate,
)
from tessera_customer.pool.rules import claim_owner, returns_to_pool
from tessera_customer.segments.rules import may_edit_segment, safe_cell
from tessera_shared.auth import Principal
from tessera_shared.errors import Forbidden, InvalidInput
from tessera_shared.imports.body import text_pieces

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def who(subject: str, *roles: str) -> Principal:
    return Principal(subject=subject, roles=frozenset(roles), kind="user")


class TestPool:
    @pytest.mark.parametrize(
        ("owner", "active_days_ago", "created_days_ago", "expected"),
        [
            ("rep1", 91, 400, True),
            ("rep1", 90, 400, True),
            ("rep1", 89, 400, False),
            ("rep1", None, 91, True),
            ("rep1", None, 10, False),
            (None, 400, 400, False),
        ],
    )
    def test_returns_after_inactive_days(
        self, owner: str | None, active_days_ago: int | None, created_days_ago: int, expected: bool
    ) -> None:
        active = NOW - timedelta(days=active_days_ago) if active_days_ago is not None else None
        assert returns_to_pool(owner, active, NOW - timedelta(days=created_days_ago), NOW, 90) is expected

    def test_claim_owner(self) -> None:
        assert claim_owner(who("rep1", "sales_rep"), None) == "rep1"
        assert claim_owner(who("rep1", "sales_rep"), "rep1") == "rep1"
        with pytest.raises(Forbidden):
            claim_owner(who("rep1", "sales_rep"), "rep2")
        assert claim_owner(who("boss", "sales_manager"), "rep2") == "rep2"
        assert claim_owner(who("boss", "sales_manager"), None) == "boss"


class TestSegmentRules:
    @pytest.mark.parametrize(
        ("value", "cell"),
        [
            ("=1+1", "'=1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-2", "'-2"),
            ("+4930123", "+4930123"),
            ("Ada", "Ada"),
            (None, ""),
            ("+49 =x", "'+49 =x"),
        ],
    )
    def test_safe_cell(self, value: str | None, cell: str) -> None:
        assert safe_cell(value) == cell

    def test_who_edits(self) -> None:
        assert may_edit_segment(who("rep1", "sales_rep"), "rep1")
        assert not may_edit_segment(who("rep2", "sales_rep"), "rep1")
        assert may_edit_segment(who("boss", "sales_manager"), "rep1")


class TestImportParsing:
    def test_csv_record_nests_and_splits(self) -> None:
        record = csv_record(
            {
                "external_id": "x",
                "kind": "person",
                "name": " Ada ",
                "tags": "a; b;;",
                "city": "Rome",
                "age_band": "",
                "preferences": "tea;jazz",
                "attr.size": "L",
            }
        )
        assert record == {
            "external_id": "x",
            "kind": "person",
            "name": "Ada",
            "tags": ["a", "b"],
            "segmentation": {"geographic": {"city": "Rome"}, "psychographic": {"preferences": ["tea", "jazz"]}},
            "custom_attributes": {"size": "L"},
        }

    @pytest.mark.parametrize(
        ("header", "field"),
        [
            ([], "body"),
            (["kind", "name", "shoe"], "shoe"),
            (["name"], "kind"),
            (["kind", "name", "name"], "name"),
        ],
    )
    def test_bad_headers(self, header: list[str], field: str) -> None:
        with pytest.raises(HeaderError) as caught:
            check_csv_header(header)
        assert caught.value.field == field
        assert isinstance(caught.value, InvalidInput) and caught.value.errors[0]["field"] == field  # a 422

    def test_csv_field_names_the_column(self) -> None:
        assert csv_field(("segmentation", "demographic", "gender")) == "gender"
        assert csv_field(("custom_attributes", "size")) == "attr.size"
        assert csv_field(("tags", 3)) == "tags"

    def test_csv_lines_count_quoted_newlines(self) -> None:
        rows = list(read_csv('kind,name,external_id\nperson,"Two\nLines",a\nperson,B\n'))
        assert rows[0] == (3, {"kind": "person", "name": "Two\nLines", "external_id": "a"})
        assert rows[1][0] == 4 and isinstance(rows[1][1], RowError)

    def test_ndjson_lines(self) -> None:
        rows = list(read_ndjson('{"kind": "person"}\n\n[]\n{"name": "a\u2028b"}'))
        assert [line for line, _ in rows] == [1, 3, 4]
        assert isinstance(rows[1][1], RowError) and rows[2][1] == {"name": "a\u2028b"}

    def test_validate_needs_external_id(self) -> None:
        errors = validate(7, {"kind": "person", "name": "Ada"}, csv_columns=True)
        assert errors == [RowError(7, "external_id", errors[0].message)]  # type: ignore[index]
        assert validate(8, {"kind": "person", "name": "Ada", "external_id": "x"}, csv_columns=True).name == "Ada"  # type: ignore[union-attr]


class TestStreamedImportBody:
    """The body arrives in pieces of any size: rows, line numbers and errors do not depend on where they are cut."""

    CSV = (
        '\ufeffkind,name,external_id\r\nperson,"Two\r\nLines",a\r\nperson,B\rperson,"Zoë",c\r\nperson,"Q ""uoted""",d\n'
    )
    NDJSON = '{"kind": "person"}\r\n\n[]\n{"name": "a\u2028b"}\n{"name": "Zoë"}'

    @pytest.mark.parametrize("reader,text", [(read_csv, CSV.removeprefix("\ufeff")), (read_ndjson, NDJSON)])
    def test_any_cut_gives_the_rows_of_the_whole(self, reader, text) -> None:
        whole = list(reader([text]))
        for cut in range(1, len(text)):
            assert list(reader([text[:cut], "", text[cut:]])) == whole, cut

    def test_crlf_and_lone_cr_end_csv_lines(self) -> None:
        rows = list(read_csv([self.CSV.removeprefix("\ufeff")]))
        assert [
            (line, r["name"], r["external_id"]) for line, r in rows if isinstance(r, dict) and "external_id" in r
        ] == [(3, "Two\r\nLines", "a"), (5, "Zoë", "c"), (6, 'Q "uoted"', "d")]
        assert rows[1][0] == 4 and isinstance(rows[1][1], RowError)  # "person,B" then a lone CR: 2 cells

    def test_a_body_of_whitespace_is_empty(self) -> None:
        for reader in (read_csv, read_ndjson):
            with pytest.raises(HeaderError) as caught:
                list(reader([" ", "\r\n", ""]))
            assert (caught.value.field, caught.value.message) == ("body", "the file is empty")


class TestBodyDecoding:
    async def test_characters_and_bom_split_between_chunks(self) -> None:
        raw = "\ufeffZoë,ü\n".encode()
        for cut in range(1, len(raw)):
            assert "".join([p async for p in text_pieces(chunks(raw[:cut], raw[cut:]))]) == "Zoë,ü\n"

    async def test_bad_byte_is_named_by_its_offset_in_the_body(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            [p async for p in text_pieces(chunks(b"abc\xc3", b"\xa9d", b"e\xff"))]
        assert caught.value.errors[0]["field"] == "body" and "at byte 7" in caught.value.message


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
