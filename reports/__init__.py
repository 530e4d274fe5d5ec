"""Reports: result tables, calibration (ECE, reliability diagrams), HTML reports."""
