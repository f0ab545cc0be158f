"""`catabot knowledge import`: documents built in code become cited resources; bad files are refused."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.embedding.fake import FakeEmbedder
from bot.knowledge.importing import DocumentImporter, ImportOptions, ImportRefused
from bot.knowledge.loader import check_knowledge
from bot.messages import text
from bot.retrieval.index import build_index
from tests import document_fixtures as fx
from tests.conftest import KNOWLEDGE, write_config

SEED_NAME = "catalyse-territoriale-atelier-2021-06-02.pdf"


@pytest.fixture
def small_base(tmp_path: Path) -> Path:
    """A knowledge base holding only the métiers: imported documents are its only resources."""
    folder = tmp_path / "kb"
    folder.mkdir()
    shutil.copy(KNOWLEDGE / "roles.yaml", folder / "roles.yaml")
    return folder


def _cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), "knowledge", "import", *args])


def _import_seed(tmp_path: Path, knowledge: Path, seed_text: str) -> tuple[Path, Path]:
    """The seed deck as a PDF, imported into `knowledge`: (the PDF, the config file)."""
    pdf = tmp_path / SEED_NAME
    pdf.write_bytes(fx.seed_pdf(seed_text))
    config = write_config(tmp_path, knowledge=knowledge)
    assert _cli(config, str(pdf)) == 0
    return pdf, config


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_seed_pdf_becomes_one_section_per_page_with_its_page_source(
    tmp_path: Path, knowledge_copy: Path, seed_text: str
) -> None:
    _import_seed(tmp_path, knowledge_copy, seed_text)
    written = knowledge_copy / "documents" / "la-catalyse-territoriale.md"
    body = written.read_text(encoding="utf-8")
    pages = fx.seed_pages(seed_text)
    assert [f"{SEED_NAME}#page={n}" in body for n in range(1, len(pages) + 1)] == [True] * len(pages)
    assert body.count("\n## ") == len(pages)
    assert "document_date: 2021-06-02" in body and "language: fr" in body
    assert "## Le RAMEAU en 3 Actes !\n" in body
    assert "- Des Rencontres annuelles : le 12 juillet prochain !" in body  # ➢ became a list item
    base, problems = check_knowledge(knowledge_copy)
    assert problems == []
    resource = base.by_id()["la-catalyse-territoriale"]
    assert resource.sources == (SEED_NAME,) and resource.imported_from == SEED_NAME


def test_ask_cites_the_document_its_date_and_the_page(
    tmp_path: Path, small_base: Path, seed_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = _import_seed(tmp_path, small_base, seed_text)
    capsys.readouterr()
    assert main(["--config", str(config), "ask", "Quand ont lieu les Rencontres annuelles du réseau ?"]) == 0
    out = capsys.readouterr().out
    assert "le 12 juillet prochain" in out
    assert "Extrait de « La catalyse territoriale », document du 2 juin 2021, page 8" in out
    assert f"{SEED_NAME}#page=8" in out


def test_reimport_changes_nothing_and_a_changed_page_reembeds_only_its_passage(
    tmp_path: Path, small_base: Path, seed_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf, config = _import_seed(tmp_path, small_base, seed_text)
    before = _files(small_base)
    embedder = FakeEmbedder(64)
    first = build_index(small_base, tmp_path / "index", embedder)
    capsys.readouterr()
    assert _cli(config, str(pdf)) == 0
    assert text("import_done", written=0, unchanged=1) in capsys.readouterr().out
    assert _files(small_base) == before
    assert build_index(small_base, tmp_path / "index", embedder).embedded == 0

    pdf.write_bytes(fx.seed_pdf(seed_text.replace("le 12 juillet prochain", "le 5 juillet prochain")))
    assert _cli(config, str(pdf), "--title", "Atelier catalyse 2021") == 0
    assert sorted(_files(small_base)) == sorted(before)  # the same file, no copy
    again = build_index(small_base, tmp_path / "index", embedder)
    # The title is part of every passage's embedded text, so a new title re-embeds them all…
    assert again.embedded == first.chunks
    pdf.write_bytes(fx.seed_pdf(seed_text.replace("le 12 juillet prochain", "le 9 juillet prochain")))
    assert _cli(config, str(pdf), "--title", "Atelier catalyse 2021") == 0
    # …while a change on one page re-embeds that page's passage only.
    assert build_index(small_base, tmp_path / "index", embedder).embedded == 1


def test_two_columns_are_read_one_after_the_other(tmp_path: Path, small_base: Path) -> None:
    draft = DocumentImporter(small_base).parse("colonnes.pdf", fx.two_column_pdf())
    text_read = " ".join(f"{s.title} {s.text}" for s in draft.sections)
    left = "La colonne de gauche parle du dialogue territorial et de ses rencontres régulières."
    right = "La colonne de droite décrit le financement des alliances par les fondations."
    assert left in text_read and right in text_read
    assert text_read.index(left) < text_read.index(right)


def test_a_footer_repeated_on_every_slide_is_dropped(small_base: Path) -> None:
    slides = [
        ("Le dialogue territorial", "Réunir les acteurs autour des besoins du territoire."),
        ("Les expérimentations", "Tester une solution à petite échelle avant de la déployer."),
        ("Les accompagnements", "Soutenir les porteurs de projets dans la durée."),
    ]
    data = fx.deck_with_footer(slides, "Réseau des catalyseurs territoriaux — atelier 2021")
    draft = DocumentImporter(small_base).parse("atelier.pptx", data)
    assert [(s.title, s.anchor) for s in draft.sections] == [
        (title, f"slide={n}") for n, (title, _) in enumerate(slides, start=1)
    ]
    assert [s.text for s in draft.sections] == [body for _, body in slides]
    assert "atelier.pptx#slide=2" in draft.markdown


def test_a_word_file_is_cut_at_its_headings(small_base: Path) -> None:
    data = fx.docx_with_headings(
        "Guide du catalyseur",
        [
            (
                "Repérer les acteurs",
                ["Commencez par les associations locales.", "- les élus", "- les entreprises"],
            ),
            ("Animer le dialogue", ["Une rencontre par trimestre suffit au début."]),
        ],
    )
    draft = DocumentImporter(small_base).parse("guide.docx", data)
    assert draft.title == "Guide du catalyseur"
    assert [(s.title, s.anchor) for s in draft.sections] == [
        ("Repérer les acteurs", "reperer-les-acteurs"),
        ("Animer le dialogue", "animer-le-dialogue"),
    ]
    assert (
        draft.sections[0].text == "Commencez par les associations locales.\n\n- les élus\n\n- les entreprises"
    )
    assert "<!-- sources: guide.docx#animer-le-dialogue -->" in draft.markdown


def test_a_french_web_page_in_windows_1252_keeps_its_accents_and_drops_its_menu(small_base: Path) -> None:
    data = fx.html_page(
        "Fiche pratique : l'alliance",
        [
            (
                "Définition",
                "Une alliance réunit des acteurs différents autour d'un besoin commun du territoire.",
            ),
            ("Étapes", "Créer la confiance, co-construire un projet, évaluer ensemble ses effets."),
        ],
    )
    assert "é".encode("cp1252") in data and "é".encode() not in data
    importer = DocumentImporter(small_base)
    draft = importer.parse("alliance.html", data, ImportOptions(source="https://exemple.org/alliance"))
    assert [s.title for s in draft.sections] == ["Définition", "Étapes"]
    assert "co-construire un projet" in draft.sections[1].text
    assert "Accueil" not in draft.markdown and "Mentions légales" not in draft.markdown
    assert draft.date is not None and draft.date.isoformat() == "2021-06-02"
    assert "<!-- sources: https://exemple.org/alliance#etapes -->" in draft.markdown
    importer.write(draft)
    assert check_knowledge(small_base)[1] == []


def test_a_document_in_another_language_is_flagged(small_base: Path) -> None:
    english = (
        "Territorial catalysts bring together local authorities, companies and associations so that "
        "they answer the needs of their territory together. They organise meetings, support projects "
        "and run shared places where people from different worlds can work side by side."
    )
    draft = DocumentImporter(small_base).parse("note.txt", english.encode())
    assert draft.language == "en"
    assert ("import_language", {"file": "note.txt", "language": "en"}) in draft.warnings


ENGLISH_PAGE = (
    "<html><body><h1>About</h1><p>This document is written entirely in English. Territorial catalysts "
    "bring together local authorities, companies and associations so that they answer the needs of "
    "their territory together.</p></body></html>"
)


def test_a_document_in_another_language_is_previewed_with_its_warning(
    tmp_path: Path, small_base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "en.html"
    page.write_text(ENGLISH_PAGE, encoding="utf-8")
    assert _cli(write_config(tmp_path, knowledge=small_base), str(page), "--dry-run") == 0
    out = capsys.readouterr().out
    assert text("import_language", file="en.html", language="en") in out
    assert "le document semble écrit dans une autre langue que le français (en)" in out


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("scan.pdf", "scanned", "scan.pdf : pas de texte : il faut d'abord le passer à l'OCR"),
        ("protege.pdf", "encrypted", "protege.pdf : le PDF est protégé par un mot de passe"),
        ("vide.pdf", b"", "vide.pdf : le fichier est vide."),
        (
            "casse.pdf",
            b"%PDF-1.7\n garbage that is no PDF",
            "casse.pdf : le fichier est illisible ou endommagé",
        ),
        ("casse.docx", b"PK not a real zip", "casse.docx : le fichier est illisible ou endommagé"),
        ("photo.jpg", b"\xff\xd8\xff\xe0 jpeg", "photo.jpg : ce type de fichier n'est pas pris en charge"),
        (
            "enorme.txt",
            b"x" * 3000,
            "enorme.txt : le fichier fait 0,00286 Mo, au-delà de la limite de 0,002 Mo",
        ),
    ],
)
def test_bad_files_are_refused_by_name_and_nothing_is_written(
    tmp_path: Path,
    small_base: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: bytes | str,
    expected: str,
) -> None:
    content = (
        {"scanned": fx.scanned_pdf, "encrypted": fx.encrypted_pdf}[data]() if isinstance(data, str) else data
    )
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / name
    path.write_bytes(content)
    config = write_config(tmp_path, knowledge=small_base)
    if name == "enorme.txt":
        with config.open("a", encoding="utf-8") as out:
            out.write("importer:\n  max_file_mb: 0.002\n")
    before = _files(small_base)
    assert _cli(config, str(path)) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert text("import_refused", count=1) in err
    assert _files(small_base) == before


def test_a_folder_with_one_bad_file_writes_nothing(tmp_path: Path, small_base: Path, seed_text: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / SEED_NAME).write_bytes(fx.seed_pdf(seed_text))
    (folder / "scan.pdf").write_bytes(fx.scanned_pdf())
    (folder / "notes.odt").write_bytes(b"ignored")
    _, refusals, skipped = DocumentImporter(small_base).parse_path(folder)
    assert [r.values["file"] for r in refusals] == ["scan.pdf"] and [p.name for p in skipped] == ["notes.odt"]
    assert _cli(write_config(tmp_path, knowledge=small_base), str(folder)) == 1
    assert not (small_base / "documents").exists()


def test_dry_run_shows_the_sections_and_writes_nothing(
    tmp_path: Path, small_base: Path, seed_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / SEED_NAME
    pdf.write_bytes(fx.seed_pdf(seed_text))
    assert _cli(write_config(tmp_path, knowledge=small_base), str(pdf), "--dry-run") == 0
    out = capsys.readouterr().out
    assert "« La catalyse territoriale », 2 juin 2021 — nouvelle ressource" in out
    assert "  • Le RAMEAU en 3 Actes ! — page 2, " in out
    assert text("import_dry_run") in out
    assert not (small_base / "documents").exists()


def test_the_same_source_updates_its_resource_whatever_the_title(small_base: Path) -> None:
    importer = DocumentImporter(small_base)
    page = b"# Guide\n\n## Partie\n\nUn texte sur le dialogue territorial et ses acteurs.\n"
    url = "https://exemple.org/guide.md#partie"
    importer.write(importer.parse("guide.md", page, ImportOptions(source=url)))
    second = importer.parse("copie.md", page, ImportOptions(source=url, title="Autre titre"))
    assert second.outcome == "updated" and second.resource_id == "guide"
    importer.write(second)
    assert [p.name for p in (small_base / "documents").iterdir()] == ["guide.md"]
    assert "sources: ['https://exemple.org/guide.md']" in (small_base / "documents" / "guide.md").read_text()


@pytest.mark.parametrize(
    ("options", "option"),
    [
        (ImportOptions(type="roman"), "--type"),
        (ImportOptions(roles=("cuisine",)), "--roles"),
        (ImportOptions(source="exemple.org/page"), "--source"),
    ],
)
def test_wrong_options_are_refused(small_base: Path, options: ImportOptions, option: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        DocumentImporter(small_base).parse("note.txt", b"Un texte.", options)
    assert caught.value.reason == "import_bad_option" and caught.value.values["option"] == option


def test_cleaning_rejoins_cut_words_and_normalizes_characters() -> None:
    from bot.knowledge.importing.cleaning import compounds, reflow

    known = compounds(["La co-construction est au cœur du projet."])
    raw = (
        "Le dévelop-\npement du terri-\ntoire passe par la co-\nconstruction.\n"
        "• la con\ufb01ance\n\uf0a7 un\u00a0ﬁnancement"
    )
    assert reflow(raw, known) == (
        "Le développement du territoire passe par la co-construction.\n- la confiance\n- un financement"
    )


WRAPPED = [
    "La médiation territoriale permet aux acteurs de se rencontrer. Les catalyseurs organisent des ateliers "
    "de co-construc-\ntion pour les collectivités et les associations de moins de dix salariés, afin que "
    "chacun trouve sa place dans le projet commun du territoire.",
    "Le financement des ateliers de médiation repose sur les fondations territoriales et les entreprises "
    "du bassin.",
]


@pytest.mark.parametrize("line_height", [4.8, 6, 8])
def test_a_wrapped_pdf_paragraph_reads_as_one_paragraph_with_its_cut_word_rejoined(
    small_base: Path, line_height: float
) -> None:
    draft = DocumentImporter(small_base).parse("atelier.pdf", fx.wrapped_pdf(WRAPPED, line_height))
    [section] = draft.sections
    expected = [" ".join(p.replace("-\n", "").split()) for p in WRAPPED]
    assert section.text.split("\n\n") == expected
    assert "ateliers de co-construction pour les collectivités" in draft.markdown


def test_a_blank_line_ends_a_paragraph_only_after_a_sentence_end() -> None:
    from bot.knowledge.importing.cleaning import reflow

    raw = "Les catalyseurs\n\norganisent des ateliers de co-construc-\n\ntion.\n\nLe financement suit."
    assert reflow(raw + "\n\nTitre\n\nSuite", set()) == (
        "Les catalyseurs organisent des ateliers de co-construction.\n\n"
        "Le financement suit.\n\nTitre\n\nSuite"
    )


def test_a_header_and_footer_on_every_page_are_dropped_not_the_text(small_base: Path) -> None:
    from bot.knowledge.importing.document import Block, Extracted
    from bot.knowledge.importing.sections import cut_sections

    blocks = []
    for page in range(1, 5):
        blocks += [
            Block("Le RAMEAU — Guide 2021", page),
            Block(f"Texte propre à la page {page}, assez long pour ne pas être un titre de page. " * 3, page),
            Block(f"Page {page} / 4", page),
        ]
    sections, _ = cut_sections(Extracted(blocks, "page", 4), "Guide")
    assert len(sections) == 4
    assert all("Le RAMEAU" not in s.title + s.text and "/ 4" not in s.text for s in sections)
    assert [s.anchor for s in sections] == [f"page={n}" for n in range(1, 5)]


def test_the_bot_cites_an_imported_page_without_a_broken_link() -> None:
    from bot.retrieval.chunker import Chunk
    from bot.retrieval.search import Hit
    from bot.telegram.render import hit_message

    chunk = Chunk("doc#0", "doc", "Guide <2021>", "Partie", "Du texte.", "guide.pdf#page=3", "ressource",
                  (), (), imported=True, document_date="2021-06-02")  # fmt: skip
    message = hit_message(Hit(chunk, 1.0, 1.0, 1.0, "Du texte."), "fr")
    assert "<a " not in message
    assert "Extrait de « Guide &lt;2021&gt; », document du 2 juin 2021, page 3 (guide.pdf#page=3)" in message
    linked = hit_message(Hit(chunk.__class__(**{**chunk.to_json(), "url": "https://x.org/g.pdf#page=3"}),
                             1.0, 1.0, 1.0, "Du texte."), "en")  # fmt: skip
    assert (
        '<a href="https://x.org/g.pdf#page=3">'
        "From « Guide &lt;2021&gt; », a document dated June 2, 2021, page 3</a>" in linked
    )


def test_an_upload_waits_outside_the_index_and_old_ones_are_purged(small_base: Path) -> None:
    uploads = DocumentImporter(small_base).uploads
    token = uploads.keep(b"%PDF-1.7 du contenu")
    assert uploads.read(token) == b"%PDF-1.7 du contenu"
    assert not list(small_base.rglob("*.md")), "the loader and the index never see an upload"
    assert uploads.read("../../roles") is None and uploads.read("0" * 16) is None
    old = uploads.keep(b"ancien")
    day_ago = time.time() - 25 * 3600
    os.utime(uploads.folder / f"{old}.upload", (day_ago, day_ago))
    assert uploads.purge() == 1 and uploads.read(old) is None and uploads.read(token) is not None
    uploads.drop(token)
    assert uploads.read(token) is None
