"""Proofcast Explorer: a read-only web app over one RiskOracle (feeds, reports, models, health).

`reader.py` turns the chain (events and views) and local files (federated manifests, the node
journal) into a `Snapshot`; `site.py` renders it with the Jinja2 templates under `templates/`,
serves it with FastAPI (JSON endpoints the pages poll) or writes it as static files.
"""
