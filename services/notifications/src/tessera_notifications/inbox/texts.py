# ruff: noqa: RUF001 - Chinese texts use full-width punctuation
"""A notification's title, body and link for each fact it is about, in English and Chinese."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# event type -> (link template, {locale: (title, body)}); templates name the event's data fields,
# and {customer} the customer's name as known here.
TEXTS: dict[str, tuple[str | None, dict[str, tuple[str, str]]]] = {
    "deal.large_detected": (
        "/api/v1/deals/{deal_id}",
        {
            "en": (
                "Large deal: {amount} {currency}",
                "A deal of {customer} reached {amount} {currency} (threshold {threshold}).",
            ),
            "zh": (
                "大额商机：{amount} {currency}",
                "{customer} 的商机金额达到 {amount} {currency}（阈值 {threshold}）。",
            ),
        },
    ),
    "activity.due": (
        "/api/v1/activities/{activity_id}",
        {
            "en": ("Reminder: {subject}", "Due {due_at}."),
            "zh": ("提醒：{subject}", "到期时间 {due_at}。"),
        },
    ),
    "sla.breached": (
        "/api/v1/tickets/{ticket_id}",
        {
            "en": (
                "SLA breached ({metric})",
                "A {priority} ticket of {customer} missed its {metric} target due {due_at}.",
            ),
            "zh": ("SLA 违约（{metric}）", "{customer} 的 {priority} 工单未达到 {metric} 目标（到期 {due_at}）。"),
        },
    ),
    "ticket.escalated": (
        "/api/v1/tickets/{ticket_id}",
        {
            "en": ("Ticket escalated to level {level}", "A {priority} ticket of {customer}: {reason}"),
            "zh": ("工单升级至第 {level} 级", "{customer} 的 {priority} 工单：{reason}"),
        },
    ),
    "credit.limit_exceeded": (
        "/api/v1/credit/{customer_id}",
        {
            "en": (
                "Credit limit exceeded",
                "{customer}: {requested_amount} {currency} requested, exposure {exposure}, limit {credit_limit}.",
            ),
            "zh": (
                "超出信用额度",
                "{customer}：申请 {requested_amount} {currency}，敞口 {exposure}，额度 {credit_limit}。",
            ),
        },
    ),
    "write_off.requested": (
        "/api/v1/write-offs/{write_off_id}",
        {
            "en": (
                "Write-off awaiting approval: invoice {number}",
                "{requested_by} asks to write off {amount} {currency} of {customer}.",
            ),
            "zh": ("待审批的坏账核销：发票 {number}", "{requested_by} 申请核销 {customer} 的 {amount} {currency}。"),
        },
    ),
    "invoice.overdue": (
        "/api/v1/invoices/{invoice_id}",
        {
            "en": ("Invoice {number} overdue", "{customer} owes {amount_due} {currency}, {days_overdue} days overdue."),
            "zh": ("发票 {number} 已逾期", "{customer} 欠款 {amount_due} {currency}，逾期 {days_overdue} 天。"),
        },
    ),
    "dunning.step": (
        "/api/v1/invoices/{invoice_id}",
        {
            "en": ("Dunning step {step} ({action}): invoice {number}", "{customer} owes {amount_due} {currency}."),
            "zh": ("催收第 {step} 步（{action}）：发票 {number}", "{customer} 欠款 {amount_due} {currency}。"),
        },
    ),
    "lead.created": (
        "/api/v1/leads/{lead_id}",
        # Not the lead's name: a lead names no customer yet, so an erasure could not find it here.
        {
            "en": ("New lead assigned to you", "Source {source}, score {score}."),
            "zh": ("分配给您的新线索", "来源 {source}，评分 {score}。"),
        },
    ),
    "lead.updated": (
        "/api/v1/leads/{lead_id}",
        {"en": ("A lead was assigned to you", "Lead {lead_id}"), "zh": ("一条线索已分配给您", "线索 {lead_id}")},
    ),
    "customer.updated": (
        "/api/v1/customers/{customer_id}",
        {"en": ("A customer is now yours", "{customer}"), "zh": ("一位客户已归属于您", "{customer}")},
    ),
}

GENERIC: dict[str, tuple[str, str]] = {"en": ("{type}", "A {type} fact."), "zh": ("{type}", "事件 {type}。")}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "-"


def render(event_type: str, data: Mapping[str, Any], locale: str, customer: str | None) -> tuple[str, str, str | None]:
    """(title, body, link) for the user's locale ("en" unless "zh")."""
    link_template, texts = TEXTS.get(event_type, (None, GENERIC))
    title, body = texts.get(locale) or texts["en"]
    values = _Missing({k: v for k, v in data.items() if not isinstance(v, dict | list)})
    values["customer"] = customer or values.get("customer_id", "-")
    values["type"] = event_type
    link = link_template.format_map(values) if link_template else None
    return title.format_map(values)[:300], body.format_map(values)[:2000], link
