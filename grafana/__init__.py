"""Grafana for Bizmetrics: provisioning files and dashboards generated from the metric catalog.

`python -m grafana.build` writes grafana/dashboards/*.json; `python -m grafana.build --check` fails when the
committed files differ from what the catalog generates. `python -m grafana.azure datasource` prints the data
source for a Grafana configured through its API instead of files (Azure Managed Grafana, docs/deployment.md).
"""
