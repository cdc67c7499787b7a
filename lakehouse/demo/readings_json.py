"""How a demo device writes one reading as a JSON line, keyed as the dataset's columns say.

Devices differ the way real ones do: numbers as JSON numbers or as strings (the landing
reader keeps both as their text), spaces after separators or none, a ``null`` where there is
no secondary value or no key at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakehouse.config.measurements import MeasurementSettings
from lakehouse.config.models import ClientConfig
from lakehouse.demo.vitals import Device, Reading, decimals
from lakehouse.errors import ConfigError

__all__ = ["JsonLayout"]


@dataclass(frozen=True)
class JsonLayout:
    """The JSON key of each role (member, device, type, ...), from the dataset's columns."""

    member: str
    device: str | None
    type: str
    value: str
    secondary: str | None
    unit: str
    time: str

    @classmethod
    def of(cls, config: ClientConfig, settings: MeasurementSettings) -> JsonLayout:
        named = {name for name in settings.column_keys().values() if name is not None}
        device = None
        for column in config.columns:
            if column.name in named:
                continue
            if "device" in column.name and device is None:
                device = column.header
            elif column.required:
                raise ConfigError(
                    "the demo generator does not know what to put in this column",
                    path=f"clients/{config.client_id}.yaml",
                    key=f"datasets.{config.dataset}.columns.{column.name}",
                    fix="name it device_id, make it optional or drop it",
                )
        secondary = settings.secondary_column

        def header(name: str) -> str:
            return config.column(name).header

        return cls(
            member=header(settings.member_column),
            device=device,
            type=header(settings.type_column),
            value=header(settings.value_column),
            secondary=header(secondary) if secondary is not None else None,
            unit=header(settings.unit_column),
            time=header(settings.time_column),
        )

    def line(self, reading: Reading, timestamp: str) -> str:
        """One JSON line, as ``reading``'s device writes it (``timestamp``: its time, unless
        planted invalid)."""
        sources, device = self, reading.device
        record: dict[str, object] = {sources.member: device.member_id}
        if sources.device is not None:
            record[sources.device] = device.device_id
        record[sources.type] = reading.reading_type
        record[sources.value] = _number(reading.value, reading.unit, device)
        if sources.secondary is not None:
            if reading.secondary is not None:
                record[sources.secondary] = _number(reading.secondary, "", device)
            elif device.null_secondary:
                record[sources.secondary] = None
        record[sources.unit] = reading.unit
        record[sources.time] = reading.timestamp or timestamp
        return json.dumps(
            record, ensure_ascii=False, separators=(",", ":") if device.compact else None
        )


def _number(value: float, unit: str, device: Device) -> object:
    places = decimals(unit)
    if device.string_values:
        return f"{value:.{places}f}"
    return round(value) if places == 0 else round(value, places)
