"""Intuit's error bodies: the documented JSON `Fault`, the lowercase `fault` real 401
answers carry, and the XML `<IntuitResponse><Fault>` some endpoints still send."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

NS = "{http://schema.intuit.com/finance/v3}"


def fault_of(text: str) -> dict[str, Any]:
    """`{"type": …, "Error": [{"Message", "Detail", "code", "element"}]}`, or {}."""
    text = text.lstrip()
    if text.startswith("<"):
        return _xml(text)
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return {}
    errors = fault.get("Error") or fault.get("error") or []
    return {"type": fault.get("type", ""), "Error": [
        {"Message": e.get("Message") or e.get("message") or "",
         "Detail": e.get("Detail") or e.get("detail") or "",
         "code": str(e.get("code") or ""), "element": e.get("element")}
        for e in errors if isinstance(e, dict)]}


def _xml(text: str) -> dict[str, Any]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    fault = root if root.tag.endswith("Fault") else root.find(f"{NS}Fault")
    if fault is None:
        fault = root.find("Fault")
    if fault is None:
        return {}

    def child(node: ET.Element, name: str) -> str:
        found = node.find(f"{NS}{name}")
        found = found if found is not None else node.find(name)
        return (found.text or "").strip() if found is not None else ""

    errors = [e for e in fault if e.tag.endswith("Error")]
    return {"type": fault.get("type", ""), "Error": [
        {"Message": child(e, "Message"), "Detail": child(e, "Detail"), "code": e.get("code", ""),
         "element": e.get("element")} for e in errors]}
