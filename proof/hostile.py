"""Writers for hostile workbooks, part by part with zipfile (the corpus and the tests make
them; nothing here is a stored binary). A sheet is streamed into the ZIP, so a sheet that
unpacks to hundreds of megabytes costs a second or two and no memory to make."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/></Types>'
)
ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}"><Relationship '
    f'Id="rId1" Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_DOC}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">'
    f'<Relationship Id="rId1" Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
MB = 1 << 20


def workbook(
    path: Path, rows: Iterable[bytes], shared: Iterable[bytes] = (), head: bytes = b""
) -> None:
    """A one-sheet workbook: ``rows`` is the body of ``<sheetData>`` and ``shared`` that of
    the shared strings (raw XML, in pieces: see :func:`strings`), ``head`` XML before
    ``<sheetData>``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'.encode())
            fh.write(head + b"<sheetData>")
            for piece in rows:
                fh.write(piece)
            fh.write(b"</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w") as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}">'.encode())
            for piece in shared:
                fh.write(piece)
            fh.write(b"</sst>")


def strings(*texts: bytes) -> list[bytes]:
    return [b"<si><t>" + text + b"</t></si>" for text in texts]


def header_row(names: Iterable[str] = ("UTID", "Amount", "Delivery Method", "Email")) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{n}</t></is></c>' for i, n in enumerate(names)
    )
    return f'<row r="1">{cells}</row>'.encode()


def far_cell(path: Path) -> None:
    """1.8 KB: a header at A1 and one cell at XFD1048576, the sheet's last."""
    workbook(path, [header_row(), b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'])


def zip_bomb(path: Path) -> None:
    """~2.5 MB that unpacks to 600 MB: 20 million cells of one shared string, rows without
    references (every row the same bytes, so it compresses a thousandfold)."""
    row = b"<row>" + b'<c t="s"><v>0</v></c>' * 20 + b"</row>"
    block = row * (MB // len(row))
    workbook(path, (block for _ in range(600)), strings(b"x"))


def one_huge_cell(path: Path) -> None:
    """~600 KB holding one 600 MB shared string."""
    block = b"A" * MB
    huge = [b"<si><t>", *(block for _ in range(600)), b"</t></si>"]
    workbook(path, [header_row(), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'], huge)


def shared_string_bomb(path: Path) -> None:
    """A 30,000-character string (within a cell's limit) used by 100,000 cells: ~100 KB that
    the reader would copy into 3 GB."""
    rows = (
        f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>'.encode() for r in range(2, 100_002)
    )
    workbook(path, [header_row(), *rows], strings(b"y" * 30_000))


def lying_sizes(path: Path) -> None:
    """The zip bomb again, its directory claiming the sheet unpacks to 1 KB."""
    zip_bomb(path)
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[at + size_at : at + size_at + 4] = (1024).to_bytes(4, "little")
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def many_parts(path: Path) -> None:
    """~5 MB of 60,000 empty parts: a directory the reader would turn into 60,000 objects."""
    workbook(path, [header_row()])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as z:
        for i in range(60_000):
            z.writestr(f"x/{i}", b"")


def far_cells_without_references(path: Path) -> None:
    """Cells that carry no reference (placed by counting, as the format allows), 2,000 in a
    row: 2,000 columns that a search for references would not see."""
    workbook(path, [header_row(), b"<row>" + b"<c><v>1</v></c>" * 2_000 + b"</row>"])


def lying_dimension(path: Path) -> None:
    """A sheet that declares A1:XFD1048576 but holds two rows: read as the two rows."""
    rows = [
        header_row(),
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>U100001</t></is></c>'
        b'<c r="B2" t="inlineStr"><is><t>5</t></is></c>'
        b'<c r="C2" t="inlineStr"><is><t>email</t></is></c>'
        b'<c r="D2" t="inlineStr"><is><t>dim@example.com</t></is></c></row>',
    ]
    workbook(path, rows, head=b'<dimension ref="A1:XFD1048576"/>')
