"""An invoice as a PDF: veza/templates/invoice.html (jinja2) turned into PDF by xhtml2pdf.

Rendering is synchronous and CPU-bound: callers on the event loop run `render_pdf` in a thread.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from xhtml2pdf import pisa

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)

# reportlab (under xhtml2pdf) keeps module-level state and does not promise thread safety; a render is
# CPU-bound and holds the GIL anyway, so rendering one at a time per process costs nothing.
_render_lock = threading.Lock()


class RenderFailed(Exception):
    """xhtml2pdf reported errors: a bug of the template, never of the data (it is escaped)."""


def format_money(cents: int, currency: str) -> str:
    """29.99 EUR; every currency the marketplace sells in has two decimals."""
    return f"{cents // 100:,}.{cents % 100:02d} {currency}"


def invoice_label(year: int, number: int) -> str:
    """2026-000042: the year and the number within it."""
    return f"{year}-{number:06d}"


def invoice_filename(invoice: dict[str, Any]) -> str:
    return f"invoice-{invoice_label(invoice['year'], invoice['number'])}.pdf"


@dataclass(frozen=True)
class InvoiceLine:
    title: str
    seller: str
    quantity: int
    unit_price: str
    amount: str


@dataclass(frozen=True)
class InvoiceDocument:
    """Everything the PDF shows, formatted."""

    label: str
    issued_on: str
    order_id: str
    sellers: list[str]
    buyer_username: str
    buyer_email: str
    lines: list[InvoiceLine]
    total: str
    currency: str


def invoice_document(
    invoice: dict[str, Any], order: dict[str, Any], buyer: dict[str, Any], items: list[dict[str, Any]]
) -> InvoiceDocument:
    """The document of an invoice row, its order (total, currency), its buyer (username, email) and the
    order's items, each with its seller (`{"username"}`)."""
    currency = order["currency"]
    issued_at: datetime = invoice["created_at"]
    items = sorted(items, key=lambda item: (item["seller"]["username"].lower(), item["title"]))
    return InvoiceDocument(
        label=invoice_label(invoice["year"], invoice["number"]),
        issued_on=issued_at.date().isoformat(),
        order_id=str(order["id"]),
        sellers=list(dict.fromkeys(item["seller"]["username"] for item in items)),
        buyer_username=buyer["username"],
        buyer_email=buyer["email"],
        lines=[
            InvoiceLine(
                title=item["title"],
                seller=item["seller"]["username"],
                quantity=item["quantity"],
                unit_price=format_money(item["unit_price_cents"], currency),
                amount=format_money(item["unit_price_cents"] * item["quantity"], currency),
            )
            for item in items
        ],
        total=format_money(order["total_cents"], currency),
        currency=currency,
    )


def _no_external_resources(uri: str, rel: str) -> str:
    """The template links nothing; whatever else asks for a file or URL gets nothing."""
    return ""


def render_pdf(document: InvoiceDocument) -> bytes:
    html = _environment.get_template("invoice.html").render(invoice=document)
    pdf = io.BytesIO()
    with _render_lock:
        status = pisa.CreatePDF(html, dest=pdf, encoding="utf-8", link_callback=_no_external_resources)
    if status.err:
        raise RenderFailed(f"xhtml2pdf reported {status.err} error(s) rendering invoice {document.label}")
    return pdf.getvalue()
