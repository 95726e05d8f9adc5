"""Domain-name input handling: IDNA 2008 with UTS 46 mapping, length rules. No I/O.

A name that cannot be sent (empty label, label over 63 octets, name over 255 octets,
characters IDNA 2008 disallows) raises :class:`InvalidName`; the probe turns it into an
``invalid_input`` row (RFC 1035 section 2.3.4 for the limits).
"""

from __future__ import annotations

from dataclasses import dataclass

import idna

MAX_LABEL = 63
MAX_NAME_WIRE = 255


class InvalidName(ValueError):
    """The name cannot be put on the wire; the message says why."""


@dataclass(frozen=True, slots=True)
class DomainName:
    """A name in both forms; ``ascii`` ends with a dot, ``unicode`` too."""

    ascii: str
    unicode: str

    @property
    def wire_length(self) -> int:
        return _wire_length(self.ascii)


def _wire_length(ascii_name: str) -> int:
    body = ascii_name.rstrip(".")
    return 1 if not body else len(body) + 2


def _ldh_or_underscore(label: str) -> bool:
    # Hostname rules (RFC 952/1123) plus "_" for service labels (_443._udp, RFC 8552).
    return all(c.isascii() and (c.isalnum() or c in "-_") for c in label)


def normalize(text: str) -> DomainName:
    """Convert user input to an absolute name in A-label and U-label form.

    ASCII labels are kept as given except for case folding (so ``_dmarc`` and other
    underscore labels work, RFC 8552); labels with non-ASCII characters go through IDNA
    2008 with the UTS 46 mapping (``idna.encode(..., uts46=True)``).
    """
    if not isinstance(text, str):
        raise InvalidName(f"name must be text, got {type(text).__name__}")
    name = text.strip()
    if name in ("", "."):
        if name == ".":
            return DomainName(".", ".")
        raise InvalidName("empty name")
    if name.endswith("."):
        name = name[:-1]
    # UTS 46 maps the ideographic and fullwidth full stops to "." (UTS 46 section 4).
    for dot in ("\u3002", "\uff0e", "\uff61"):
        name = name.replace(dot, ".")
    labels = name.split(".")
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    for index, label in enumerate(labels):
        if label == "":
            raise InvalidName(f"empty label at position {index} in {text!r}")
        if label.isascii():
            if not _ldh_or_underscore(label) and label != "*":
                raise InvalidName(
                    f"label {label!r} has characters outside letters, digits, - and _"
                )
            a_label = label.lower()
            if a_label.startswith("xn--"):
                try:
                    u_label = idna.decode(a_label)
                except idna.IDNAError as exc:
                    raise InvalidName(f"label {label!r} is not a valid A-label: {exc}") from None
            else:
                u_label = a_label
        else:
            try:
                a_label = idna.encode(label, uts46=True).decode("ascii")
                u_label = idna.decode(a_label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise InvalidName(f"label {label!r} is not valid IDNA 2008: {exc}") from None
        if len(a_label) > MAX_LABEL:
            raise InvalidName(f"label {label[:20]!r}... is {len(a_label)} octets (max {MAX_LABEL})")
        ascii_labels.append(a_label)
        unicode_labels.append(u_label)
    ascii_name = ".".join(ascii_labels) + "."
    if _wire_length(ascii_name) > MAX_NAME_WIRE:
        raise InvalidName(
            f"name is {_wire_length(ascii_name)} octets on the wire (max {MAX_NAME_WIRE})"
        )
    return DomainName(ascii_name, ".".join(unicode_labels) + ".")
