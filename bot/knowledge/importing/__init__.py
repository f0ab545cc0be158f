"""Import the network's own documents (PDF, Word, slides, web pages, Markdown, text) as cited resources.

The domain API, for the CLI and a Telegram adapter alike:
`DocumentImporter(knowledge_dir, folder=…, max_bytes=…).parse(file_name, data, ImportOptions(...))`
returns a `Draft` (title, date, language, sections with title, page and size, outcome) or raises
`ImportRefused` (a message-catalogue key and its values); `write(draft)` stores it.
"""

from bot.knowledge.importing.document import Draft, ImportOptions, ImportRefused, Section
from bot.knowledge.importing.service import READERS, DocumentImporter, supported

__all__ = ["READERS", "DocumentImporter", "Draft", "ImportOptions", "ImportRefused", "Section", "supported"]
