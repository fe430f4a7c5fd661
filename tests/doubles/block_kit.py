"""What Slack accepts in an incoming-webhook message, as one checker the Slack double and the
notifier's tests share.

Limits from Slack's Block Kit reference (https://api.slack.com/reference/block-kit/blocks and
.../composition-objects#text): at most 50 blocks per message; a text object has a type of
``plain_text`` or ``mrkdwn`` and a non-empty ``text``; ``header`` takes plain_text of at most
150 characters; ``section`` takes ``text`` (at most 3000) and/or 1-10 ``fields`` (at most 2000
each); ``context`` takes 1-10 elements; ``actions`` takes 1-25 elements; a button's text is
plain_text of at most 75 characters and its ``url`` at most 3000. An attachment's ``color`` is a
hex colour. Slack answers ``400 invalid_blocks`` to a message that breaks one of these.
"""
from __future__ import annotations

import re

MAX_BLOCKS = 50
_COLOUR = re.compile(r"^#?[0-9a-fA-F]{6}$")


def _text_object(obj, where: str, limit: int, kinds=("plain_text", "mrkdwn")) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where}: not a text object of type {'/'.join(kinds)}: {obj!r:.80}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return [f"{where}: empty text"]
    if len(text) > limit:
        return [f"{where}: {len(text)} characters, more than {limit}"]
    return []


def _block(block, where: str) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [f"{where}: block without a type"]
    kind = block["type"]
    if kind == "header":
        return _text_object(block.get("text"), f"{where} header", 150, ("plain_text",))
    if kind == "section":
        found = []
        if "text" not in block and "fields" not in block:
            return [f"{where} section: neither text nor fields"]
        if "text" in block:
            found += _text_object(block["text"], f"{where} section text", 3000)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                return found + [f"{where} section: fields must be a list of 1 to 10 text objects"]
            for i, field in enumerate(fields):
                found += _text_object(field, f"{where} section field {i}", 2000)
        return found
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            return [f"{where} context: 1 to 10 elements"]
        return [p for i, e in enumerate(elements) for p in _text_object(e, f"{where} context element {i}", 3000)]
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
            return [f"{where} actions: 1 to 25 elements"]
        found = []
        for i, e in enumerate(elements):
            if not isinstance(e, dict) or e.get("type") != "button":
                found.append(f"{where} actions element {i}: not a button")
                continue
            found += _text_object(e.get("text"), f"{where} button {i}", 75, ("plain_text",))
            url = e.get("url")
            if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))
                                    or len(url) > 3000):
                found.append(f"{where} button {i}: url must be http(s) and at most 3000 characters")
        return found
    if kind == "divider":
        return []
    return [f"{where}: block type {kind!r} is not one this checker knows"]


def problems(payload) -> list[str]:
    """Every reason Slack would refuse this webhook message; [] when it would accept it."""
    if not isinstance(payload, dict):
        return ["the message is not a JSON object"]
    found = []
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        found.append("text is not a string")
    blocks = []
    if "blocks" in payload:
        if not isinstance(payload["blocks"], list):
            return found + ["blocks is not a list"]
        blocks += [("blocks", b) for b in payload["blocks"]]
    attachments = payload.get("attachments", [])
    if not isinstance(attachments, list):
        return found + ["attachments is not a list"]
    for n, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            found.append(f"attachment {n} is not an object")
            continue
        colour = attachment.get("color")
        if colour is not None and not (isinstance(colour, str) and _COLOUR.match(colour)):
            found.append(f"attachment {n}: color {colour!r} is not a hex colour")
        inner = attachment.get("blocks", [])
        if not isinstance(inner, list):
            found.append(f"attachment {n}: blocks is not a list")
            continue
        blocks += [(f"attachment {n}", b) for b in inner]
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks, more than {MAX_BLOCKS}")
    for i, (where, block) in enumerate(blocks):
        found += _block(block, f"{where} block {i}")
    if not (isinstance(text, str) and text.strip()) and not blocks:
        found.append("no text and no blocks")
    return found
