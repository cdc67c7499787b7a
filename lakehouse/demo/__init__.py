"""Seeded, realistic demo data: landing files that exercise every path of the pipeline."""

from lakehouse.demo.generate import DemoDataset, DemoFile, build_demo

__all__ = ["DemoDataset", "DemoFile", "build_demo"]
