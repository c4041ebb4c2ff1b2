"""A small real catalogue (issue 13): agent templates for each role, two cookbooks with their
recipes, and the skills marketplace's first skills (one deprecated).

Idempotent by slug (templates, skills), by name within a template (cookbooks) and by name and
version within a cookbook (recipes): rows platform staff have since edited are left as they are.
Each recipe's YAML goes through agents.recipes.parse_recipe, the API's own parse and schema, so
a recipe here that stopped validating fails the migration instead of reaching the catalogue.
Reversible: the reverse removes what this seeded, except skills that agents have installed.
"""

from typing import Any

from django.db import migrations

from agents.recipes import parse_recipe
from core.tenancy import platform_bypass

TEMPLATES: list[dict[str, Any]] = [
    {
        "slug": "product-manager",
        "name": "Product manager",
        "role": "pm",
        "description": "Keeps the roadmap, writes specs from customer feedback, summarises the week.",
        "default_model_tier": "sonnet",
        "default_thinking_mode": "low",
        "default_tool_policy": {"allow": ["web.search", "docs.*", "tickets.read"], "deny": ["code.*"]},
        "avatar_icon": "clipboard",
    },
    {
        "slug": "code-reviewer",
        "name": "Code reviewer",
        "role": "engineering",
        "description": "Reviews pull requests for bugs, tests and style; explains what it would change.",
        "default_model_tier": "opus",
        "default_thinking_mode": "high",
        "default_tool_policy": {"allow": ["git.read", "code.search", "ci.read"], "deny": ["git.push"]},
        "avatar_icon": "code",
    },
    {
        "slug": "release-engineer",
        "name": "Release engineer",
        "role": "engineering",
        "description": "Cuts releases, writes the changelog, watches the rollout.",
        "default_model_tier": "sonnet",
        "default_thinking_mode": "low",
        "default_tool_policy": {"allow": ["git.*", "ci.*", "docs.write"], "deny": ["prod.shell"]},
        "avatar_icon": "rocket",
    },
    {
        "slug": "incident-responder",
        "name": "Incident responder",
        "role": "operations",
        "description": "Triages alerts, gathers logs and metrics, drafts the incident timeline.",
        "default_model_tier": "sonnet",
        "default_thinking_mode": "high",
        "default_tool_policy": {"allow": ["logs.read", "metrics.read", "pager.ack"], "deny": ["prod.shell"]},
        "avatar_icon": "siren",
    },
    {
        "slug": "support-triage",
        "name": "Support triage",
        "role": "operations",
        "description": "Sorts the support queue, answers the known questions, escalates the rest.",
        "default_model_tier": "haiku",
        "default_thinking_mode": "off",
        "default_tool_policy": {"allow": ["tickets.*", "kb.search"], "deny": []},
        "avatar_icon": "inbox",
    },
    {
        "slug": "blank-agent",
        "name": "Blank agent",
        "role": "custom",
        "description": "No defaults beyond the tenant's: for agents built from scratch.",
        "default_model_tier": "sonnet",
        "default_thinking_mode": "off",
        "default_tool_policy": {"allow": [], "deny": []},
        "avatar_icon": "sparkles",
    },
]

WEEKLY_STATUS = """\
name: weekly-status
description: The week's shipped work, open risks and next steps, from tickets and commits.
inputs:
  project: {type: string, required: true, description: The project key.}
  since_days: {type: integer, required: false, default: 7}
steps:
  - id: tickets
    action: tool
    tool: tickets.read
    with: {project: "{{ inputs.project }}", since_days: "{{ inputs.since_days }}"}
  - id: commits
    action: tool
    tool: git.read
    with: {project: "{{ inputs.project }}"}
  - id: write
    action: prompt
    prompt: Summarise what shipped, what slipped and why, and the risks for next week.
    needs: [tickets, commits]
    timeout_seconds: 600
outputs: {report: "{{ steps.write.output }}"}
"""

SPEC_FROM_FEEDBACK = """\
name: spec-from-feedback
description: A one-page spec from a batch of customer feedback.
inputs:
  feedback_query: {type: string, required: true}
steps:
  - id: gather
    action: tool
    tool: tickets.read
    with: {query: "{{ inputs.feedback_query }}"}
    retries: 2
  - id: cluster
    action: prompt
    prompt: Group the feedback into themes; count each theme.
    needs: [gather]
  - id: draft
    action: prompt
    prompt: Write a one-page spec for the largest theme, with acceptance criteria.
    needs: [cluster]
outputs: {spec: "{{ steps.draft.output }}"}
"""

TRIAGE_ALERT = """\
name: triage-alert
description: From an alert to a first assessment and, when it is real, a page.
inputs:
  alert_id: {type: string, required: true}
steps:
  - id: logs
    action: tool
    tool: logs.read
    with: {alert: "{{ inputs.alert_id }}", minutes: 30}
  - id: metrics
    action: tool
    tool: metrics.read
    with: {alert: "{{ inputs.alert_id }}"}
  - id: assess
    action: prompt
    prompt: Is this alert a real incident? Say how sure you are and why.
    needs: [logs, metrics]
  - id: page
    action: tool
    tool: pager.ack
    when: "{{ steps.assess.output.real }}"
    needs: [assess]
outputs: {assessment: "{{ steps.assess.output }}"}
"""

COOKBOOKS: list[dict[str, Any]] = [
    {
        "template": "product-manager",
        "name": "Planning",
        "description": "Specs and status reports.",
        "capabilities": ["status reports", "specs", "feedback analysis"],
        "recipes": [
            ("weekly-status", "1.0.0", WEEKLY_STATUS),
            ("spec-from-feedback", "1.1.0", SPEC_FROM_FEEDBACK),
        ],
    },
    {
        "template": "incident-responder",
        "name": "On call",
        "description": "First response to alerts.",
        "capabilities": ["alert triage", "incident timelines"],
        "recipes": [("triage-alert", "1.0.0", TRIAGE_ALERT)],
    },
]

SKILLS: list[dict[str, Any]] = [
    {
        "slug": "web-research",
        "name": "Web research",
        "description": "Searches the web and cites its sources.",
        "category": "productivity",
        "version": "2.1.0",
        "compatible_roles": [],
        "permissions": ["web.search"],
        "status": "published",
    },
    {
        "slug": "sql-analyst",
        "name": "SQL analyst",
        "description": "Writes and explains read-only SQL against the warehouse.",
        "category": "analytics",
        "version": "1.4.2",
        "compatible_roles": ["pm", "engineering", "custom"],
        "permissions": ["warehouse.read"],
        "status": "published",
    },
    {
        "slug": "github-reviewer",
        "name": "GitHub reviewer",
        "description": "Reads pull requests and posts review comments.",
        "category": "engineering",
        "version": "3.0.1",
        "compatible_roles": ["engineering"],
        "permissions": ["git.read", "git.comment"],
        "status": "published",
    },
    {
        "slug": "test-writer",
        "name": "Test writer",
        "description": "Proposes unit tests for uncovered code.",
        "category": "engineering",
        "version": "0.9.0",
        "compatible_roles": ["engineering"],
        "permissions": ["code.search"],
        "status": "published",
    },
    {
        "slug": "slack-digest",
        "name": "Slack digest",
        "description": "A daily digest of the channels it is asked to follow.",
        "category": "communication",
        "version": "1.2.0",
        "compatible_roles": [],
        "permissions": ["slack.read"],
        "status": "published",
    },
    {
        "slug": "runbook-runner",
        "name": "Runbook runner",
        "description": "Follows a runbook step by step, asking before anything destructive.",
        "category": "engineering",
        "version": "1.0.0",
        "compatible_roles": ["operations"],
        "permissions": ["runbooks.read", "logs.read"],
        "status": "published",
    },
    {
        "slug": "meeting-notes",
        "name": "Meeting notes",
        "description": "Turns a transcript into decisions and action items.",
        "category": "communication",
        "version": "2.0.0",
        "compatible_roles": ["pm", "operations", "custom"],
        "permissions": ["docs.write"],
        "status": "published",
    },
    {
        "slug": "email-drafts",
        "name": "E-mail drafts (legacy)",
        "description": "Drafts replies to e-mail. Superseded by Slack digest and Meeting notes.",
        "category": "communication",
        "version": "1.8.3",
        "compatible_roles": [],
        "permissions": ["email.read"],
        "status": "deprecated",
    },
]


def seed(apps: Any, schema_editor: Any) -> None:
    AgentTemplate = apps.get_model("agents", "AgentTemplate")
    Cookbook = apps.get_model("agents", "Cookbook")
    Recipe = apps.get_model("agents", "Recipe")
    Skill = apps.get_model("agents", "Skill")
    templates = {}
    for data in TEMPLATES:
        values = {k: v for k, v in data.items() if k != "slug"}
        templates[data["slug"]], _ = AgentTemplate.objects.get_or_create(
            slug=data["slug"], defaults=values | {"is_published": True}
        )
    for data in COOKBOOKS:
        cookbook, _ = Cookbook.objects.get_or_create(
            template=templates[data["template"]],
            name=data["name"],
            defaults={"description": data["description"], "capabilities": data["capabilities"]},
        )
        for name, version, source in data["recipes"]:
            definition = parse_recipe(source)
            Recipe.objects.get_or_create(
                cookbook=cookbook,
                name=name,
                version=version,
                defaults={
                    "source": source,
                    "definition": definition,
                    "input_schema": definition.get("inputs", {}),
                    "is_active": True,
                },
            )
    for data in SKILLS:
        Skill.objects.get_or_create(
            slug=data["slug"], defaults={k: v for k, v in data.items() if k != "slug"}
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    AgentTemplate = apps.get_model("agents", "AgentTemplate")
    Skill = apps.get_model("agents", "Skill")
    # Across tenants: the agents made from a template and the skills' installations are
    # tenant-scoped rows, which row-level security hides from a query without the bypass.
    with platform_bypass(reason="reverse the catalogue seed (agents 0002)"):
        # Cookbooks and recipes go with their templates (CASCADE); agents made from one keep
        # their settings, as if made from scratch (template SET_NULL).
        AgentTemplate.objects.filter(slug__in=[t["slug"] for t in TEMPLATES]).delete()
        Skill.objects.filter(slug__in=[s["slug"] for s in SKILLS], installations__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
