#!/usr/bin/env python3
"""Writes the hostile-input corpus of tests/fixtures/hostile/ (used by tests/hostile.rs).

Python 3 standard library only; run from anywhere:

    python3 scripts/make_fixtures.py

The output is deterministic (fixed gzip mtime, fixed zip timestamps), so re-running the script
on an unchanged corpus changes no bytes. Each file is small: inputs that must be big to be
hostile (a 10 MB single line, a 1 MB JSON string) are made by the tests themselves at run time,
so that the repository stays light. The gzip bomb is small on disk by nature (about 8 KB that
expand to 8 MB).

Every retail file below has the UCI header; where a file holds one bad row, it is on line 3,
between two good rows, so an error must name line 3 and skipping must count exactly one row.
"""

import gzip
import io
import os
import zipfile
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "hostile")

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
GOOD_1 = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom"
GOOD_2 = "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom"
GOOD_3 = "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom"
# A description with a non-ASCII letter, for the BOM / CRLF / encoding variants.
GOOD_CAFE = "536367,84879,CAF\u00c9 CR\u00c8ME MUG,4,12/1/2010 8:34,1.69,13047,France"


def write(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(OUT, name), "wb") as handle:
        handle.write(data)


def lines(*rows):
    return "".join(row + "\n" for row in rows)


def with_bad_row(bad):
    """Header, a good row, the bad row (line 3), a good row."""
    return lines(HEADER, GOOD_1, bad, GOOD_3)


def retail_csv():
    # Header problems: refused whatever on_bad_row says.
    write("retail_wrong_header.csv", lines(HEADER.replace("Quantity", "Quantty"), GOOD_1, GOOD_2))
    write(
        "retail_missing_column.csv",
        lines(*(row.rsplit(",", 1)[0] for row in (HEADER, GOOD_1, GOOD_2))),
    )
    # "Price" is the Online Retail II name of UnitPrice: the same column twice.
    write("retail_duplicate_column.csv", lines(HEADER + ",Price", GOOD_1 + ",2.55", GOOD_2 + ",3.39"))

    # Numbers.
    write("retail_price_1e400.csv", with_bad_row(GOOD_2.replace(",3.39,", ",1e400,")))
    write("retail_price_nan.csv", with_bad_row(GOOD_2.replace(",3.39,", ",NaN,")))
    write("retail_price_negative_zero.csv", with_bad_row(GOOD_2.replace(",3.39,", ",-0,")))
    # A decimal comma: quoted it is one field that is not a number; unquoted it is one field too many.
    write("retail_price_decimal_comma.csv", with_bad_row(GOOD_2.replace(",3.39,", ',"3,39",')))
    write("retail_price_decimal_comma_unquoted.csv", with_bad_row(GOOD_2.replace(",3.39,", ",3,39,")))

    # Dates.
    write("retail_date_31_02_2011.csv", with_bad_row(GOOD_2.replace("12/1/2010 8:26", "31/02/2011 8:26")))
    write("retail_date_2011_13_01.csv", with_bad_row(GOOD_2.replace("12/1/2010 8:26", "2011-13-01 08:26:00")))
    write("retail_date_empty.csv", with_bad_row(GOOD_2.replace("12/1/2010 8:26", "")))

    # Customer id.
    write("retail_customer_abc.csv", with_bad_row(GOOD_2.replace(",17850,", ",abc,")))

    # Encodings and line ends: all four hold the same rows.
    good = lines(HEADER, GOOD_1, GOOD_CAFE, GOOD_3)
    write("retail_good.csv", good)
    write("retail_bom.csv", b"\xef\xbb\xbf" + good.encode("utf-8"))
    write("retail_crlf.csv", good.replace("\n", "\r\n"))
    write("retail_latin1.csv", good.encode("iso-8859-1"))

    # An opening quote that is never closed swallows the rest of the file (lines 3 to 5).
    unclosed = GOOD_2.replace("WHITE METAL LANTERN", '"WHITE METAL LANTERN')
    write("retail_unclosed_quote.csv", lines(HEADER, GOOD_1, unclosed, GOOD_3, GOOD_1.replace("536365", "536368")))
    # Every data row is bad: skipping them all leaves nothing to store.
    write(
        "retail_all_rows_bad.csv",
        lines(HEADER, GOOD_1.replace(",2.55,", ",oops,"), GOOD_3.replace(",1.85,", ",oops,")),
    )

    # Empty and header-only.
    write("retail_empty.csv", b"")
    write("retail_header_only.csv", lines(HEADER))


def retail_gzip():
    # 3,000 distinct rows (about 250 KB of text) so that half the gzip stream is real data.
    rows = [HEADER]
    for i in range(3000):
        rows.append(
            f"{540000 + i // 4},{20000 + i % 977},ITEM NUMBER {i},{1 + i % 12},"
            f"12/{1 + i % 28}/2010 {8 + i % 10}:{i % 60:02d},{1 + (i % 500) / 100:.2f},{12346 + i % 400},United Kingdom"
        )
    packed = gzip.compress(lines(*rows).encode("utf-8"), compresslevel=9, mtime=0)
    write("retail_truncated.csv.gz", packed[: len(packed) // 2])

    # A gzip bomb: 8 MB of blank lines after a header, about 8 KB on disk. The tests set
    # [ingest] max_decompressed_bytes = 1000000 so that decompression must stop early.
    bomb = (HEADER + "\n").encode("utf-8") + b"\n" * (8 << 20)
    write("retail_bomb.csv.gz", gzip.compress(bomb, compresslevel=9, mtime=0))


# ---- xlsx, written by hand: the smallest SpreadsheetML package calamine (and Excel) accept.

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>
"""

ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>
"""

WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>
</workbook>
"""

WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>
"""


def column_letter(index):
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index]


def sheet_xml(rows):
    """Numbers become numeric cells, anything else an inline string (no sharedStrings part)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    ]
    for r, row in enumerate(rows, start=1):
        out.append(f'<row r="{r}">')
        for c, value in enumerate(row):
            ref = f"{column_letter(c)}{r}"
            if isinstance(value, (int, float)):
                out.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>\n")
    return "".join(out)


def zip_bytes(parts):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def workbook(sheet_name, rows, with_sheet_part=True):
    parts = [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", ROOT_RELS),
        ("xl/workbook.xml", WORKBOOK.format(name=escape(sheet_name, {'"': "&quot;"}))),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
    ]
    if with_sheet_part:
        parts.append(("xl/worksheets/sheet1.xml", sheet_xml(rows)))
    return zip_bytes(parts)


# Excel serial date-times of 12/1/2010 8:26 and 8:28 (days since 1899-12-30).
SERIAL_0826 = 40513 + (8 * 60 + 26) / 1440
SERIAL_0828 = 40513 + (8 * 60 + 28) / 1440
XLSX_HEADER = HEADER.split(",")
XLSX_GOOD_1 = [536365, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, SERIAL_0826, 2.55, 17850, "United Kingdom"]
XLSX_GOOD_2 = [536365, 71053, "WHITE METAL LANTERN", 6, SERIAL_0826, 3.39, 17850, "United Kingdom"]
XLSX_GOOD_3 = [536366, 22633, "HAND WARMER UNION JACK", 6, SERIAL_0828, 1.85, 17850, "United Kingdom"]


def retail_xlsx():
    good_rows = [XLSX_HEADER, XLSX_GOOD_1, XLSX_GOOD_2, XLSX_GOOD_3]
    # A well-formed workbook (the control case), with the sheet named as in the UCI file, and
    # the CSV export of the same rows: both must give the same table.
    write("retail_good.xlsx", workbook("Online Retail", good_rows))
    write("retail_good_xlsx_twin.csv", lines(HEADER, GOOD_1, GOOD_2, GOOD_3))
    # A bad cell on sheet row 3.
    bad = list(XLSX_GOOD_2)
    bad[6] = "abc"
    write("retail_bad_cell.xlsx", workbook("Online Retail", [XLSX_HEADER, XLSX_GOOD_1, bad, XLSX_GOOD_3]))
    # The workbook lists its one sheet, but the sheet's part is not in the package.
    write("retail_sheet_part_missing.xlsx", workbook("Online Retail", good_rows, with_sheet_part=False))
    # A zip, named .xlsx, of something else entirely.
    write(
        "retail_zip_of_text.xlsx",
        zip_bytes([("notes.txt", "not a workbook\n"), ("data/rows.csv", lines(HEADER, GOOD_1))]),
    )
    # Not even a zip: CSV text named .xlsx.
    write("retail_csv_named.xlsx", lines(HEADER, GOOD_1))


def social():
    write("social_non_numeric.txt", "0 1\n1 2\nx 3\n2 3\n")
    write("social_one_column.txt", "0 1\n1 2\n5\n2 3\n")


MERCHANT_1 = (
    '{"business_id":"hostile-b1","name":"Corner Shop","address":"1 High St","city":"Leeds",'
    '"state":"WYK","postal_code":"LS1","latitude":53.8,"longitude":-1.55,"stars":4.5,'
    '"review_count":10,"is_open":1,"attributes":null,"categories":"Shopping, Gifts","hours":null}'
)
MERCHANT_3 = MERCHANT_1.replace("hostile-b1", "hostile-b3").replace("Corner Shop", "Market Stall")


def merchants():
    def with_bad_line(bad):
        return lines(MERCHANT_1, bad, MERCHANT_3)

    write(
        "merchants_trailing_comma.json",
        with_bad_line('{"business_id":"hostile-b2","name":"Kiosk","stars":3.0,"review_count":2,}'),
    )
    write("merchants_non_object.json", with_bad_line('["hostile-b2","Kiosk",3.0,2]'))
    # 5,000 nested arrays inside an otherwise valid object (serde_json stops at depth 128).
    deep = "[" * 5000 + "]" * 5000
    write(
        "merchants_deep_nesting.json",
        with_bad_line(
            '{"business_id":"hostile-b2","name":"Kiosk","stars":3.0,"review_count":2,"attributes":'
            + deep
            + "}"
        ),
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    retail_csv()
    retail_gzip()
    retail_xlsx()
    social()
    merchants()
    total = sum(os.path.getsize(os.path.join(OUT, name)) for name in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
