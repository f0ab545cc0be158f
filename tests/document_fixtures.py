"""Documents built in code for the importer's tests: PDFs (fpdf2), a Word file, a deck, a web page."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import docx
import pptx
from fpdf import FPDF
from matplotlib import get_data_path
from PIL import Image
from pptx.util import Inches, Pt

# A Unicode font that ships with matplotlib (a dependency), for « », œ, ’, ❑ and ➢.
FONT = Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
SEED_DATE = dt.date(2021, 6, 2)


def _pdf(title: str = "", created: dt.date | None = None) -> FPDF:
    pdf = FPDF()
    pdf.add_font("dejavu", fname=str(FONT))
    pdf.set_font("dejavu", size=11)
    pdf.set_auto_page_break(False)
    if title:
        pdf.set_title(title)
    if created:
        pdf.set_creation_date(dt.datetime(created.year, created.month, created.day, tzinfo=dt.UTC))
    return pdf


def seed_pages(text: str) -> list[str]:
    """The seed text's slides: it separates them by two blank lines or more."""
    return [page.strip("\n") for page in re.split(r"\n\s*\n\s*\n+", text) if page.strip()]


def seed_pdf(text: str) -> bytes:
    """One page per slide of the workshop deck, dated like the workshop, titled like its first slide."""
    pdf = _pdf("La catalyse territoriale", SEED_DATE)
    for page in seed_pages(text):
        pdf.add_page()
        pdf.set_xy(15, 20)
        pdf.multi_cell(180, 4.8, page, align="L")
    return bytes(pdf.output())


def two_column_pdf() -> bytes:
    """One page in two columns, written line by line across both (as many layout tools do)."""
    left = ["La colonne de gauche parle du", "dialogue territorial et de ses", "rencontres régulières."]
    right = ["La colonne de droite décrit", "le financement des alliances", "par les fondations."]
    pdf = _pdf("Deux colonnes")
    pdf.add_page()
    for row, (a, b) in enumerate(zip(left, right, strict=True)):
        pdf.text(15, 30 + row * 5, a)
        pdf.text(110, 30 + row * 5, b)
    return bytes(pdf.output())


def wrapped_pdf(paragraphs: list[str], line_height: float) -> bytes:
    """Justified paragraphs that wrap over several lines, one blank line between them; a `\n` inside a
    paragraph forces a line end there (« co-construc-\ntion », as a hyphenating tool writes it). From a
    line height of 6 mm the layout analysis makes a text box of every line."""
    pdf = _pdf("Atelier de médiation")
    pdf.add_page()
    pdf.set_xy(15, 20)
    for paragraph in paragraphs:
        pdf.multi_cell(120, line_height, paragraph, align="J")
        pdf.ln(line_height)
    return bytes(pdf.output())


def scanned_pdf() -> bytes:
    """A page that is only a picture (a scan): no text layer."""
    pdf = _pdf()
    pdf.add_page()
    picture = Image.new("RGB", (200, 100), "white")
    pdf.image(picture, x=10, y=10, w=100)
    return bytes(pdf.output())


def encrypted_pdf() -> bytes:
    pdf = _pdf()
    pdf.set_encryption(owner_password="proprietaire", user_password="secret")
    pdf.add_page()
    pdf.text(20, 20, "Texte confidentiel du réseau.")
    return bytes(pdf.output())


def deck_with_footer(slides: list[tuple[str, str]], footer: str) -> bytes:
    """A deck whose every slide repeats one footer text box (with the slide number)."""
    deck = pptx.Presentation()
    for number, (title, body) in enumerate(slides, start=1):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        assert slide.shapes.title is not None
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        box = slide.shapes.add_textbox(Inches(0.5), Inches(7), Inches(9), Inches(0.4))
        box.text_frame.text = f"{footer} — {number}"
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(9)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def docx_with_headings(title: str, sections: list[tuple[str, list[str]]]) -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    document.add_heading(title, level=0)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            if paragraph.startswith("- "):
                document.add_paragraph(paragraph[2:], style="List Bullet")
            else:
                document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def html_page(title: str, sections: list[tuple[str, str]], *, charset: str = "windows-1252") -> bytes:
    """A French web page with a menu and a footer around its article, saved in `charset`."""
    body = "".join(f"<h2>{h}</h2><p>{p}</p>" for h, p in sections)
    page = (
        f'<html><head><meta charset="{charset}"><title>{title}</title>'
        '<meta name="date" content="2021-06-02"></head><body>'
        "<nav><a href='/'>Accueil</a> | <a href='/contact'>Contact</a></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>Mentions légales</footer></body></html>"
    )
    return page.encode(charset)
