"""Seeded, realistic demo data: landing files that exercise every path of the pipeline."""

from lakehouse.demo.generate import DemoDataset, DemoFile, build_demo
from lakehouse.demo.readings import ExpectedReadings, ReadingKey

__all__ = ["DemoDataset", "DemoFile", "ExpectedReadings", "ReadingKey", "build_demo"]
