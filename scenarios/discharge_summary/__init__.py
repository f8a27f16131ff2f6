"""discharge-summary (电子出院小结 / 诊后管理, L9, L10): a hospital's clerks and doctors publish a
discharge summary for a patient — a checked PDF and structured fields (diagnosis, advice,
medicines, follow-ups), kept encrypted; the patient and those who may act for them read it,
staff reads are audited, the PDF is served through signed, expiring URLs as an attachment.
Each follow-up (a call, a revisit, a test) is a ticket of the hospital's follow-up team due
on its date (config.py); a missed one escalates to the department heads.

The scenario's own: the PDF check and store (pdf.py, files.py), the summaries (models.py,
service.py, routes.py), where a follow-up is filed (policy.py). The workflow engine does the rest.
"""
from __future__ import annotations

from scenarios.discharge_summary.config import CONFIG
from scenarios.engines.workflow.config import workflow_scenario

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="Discharge summaries and follow-ups",
    seed_refs=("L9", "L10"),
    roles=("resident", "hospital:clerk", "hospital:doctor", "hospital:followup", "hospital:department_head",
           "community_health_centre:clerk", "community_health_centre:doctor", "community_health_centre:followup",
           "community_health_centre:department_head", "bureau:supervisor"),
    models=("scenarios.discharge_summary.models",),
    jobs=("scenarios.discharge_summary.jobs",),
    blueprints=("scenarios.discharge_summary.routes:blueprints",),
    console=("scenarios.discharge_summary.console:blueprints",),
    demo="scenarios.discharge_summary.demo:load",
    personal_data="scenarios.discharge_summary.personal_data:PERSONAL_DATA",
)
