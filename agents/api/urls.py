"""The agents app's routes: the catalogue (everyone reads, platform staff write), and per tenant
agents, their skills, sessions and the task queue."""

from django.urls import path

from agents.api import agents, catalogue, channels, health, sessions, stream, tasks, telemetry

T = "tenants/<uuid:tenant_id>/"
A = T + "agents/<uuid:agent_id>/"
S = T + "sessions/<uuid:session_id>/"
K = T + "tasks/<uuid:task_id>/"
C = "platform/catalogue/"

urlpatterns = [
    # The catalogue
    path("catalogue/templates/", catalogue.TemplateListApi.as_view(), name="agent-templates"),
    path(
        "catalogue/templates/<uuid:template_id>/",
        catalogue.TemplateDetailApi.as_view(),
        name="agent-template",
    ),
    path("catalogue/cookbooks/", catalogue.CookbookListApi.as_view(), name="cookbooks"),
    path("catalogue/recipes/", catalogue.RecipeListApi.as_view(), name="recipes"),
    path("catalogue/skills/", catalogue.SkillListApi.as_view(), name="skills"),
    path("catalogue/skills/<uuid:skill_id>/rate", catalogue.SkillRateApi.as_view(), name="skill-rate"),
    path(C + "templates/", catalogue.PlatformTemplateCreateApi.as_view(), name="platform-agent-templates"),
    path(
        C + "templates/<uuid:template_id>/",
        catalogue.PlatformTemplateDetailApi.as_view(),
        name="platform-agent-template",
    ),
    path(
        C + "templates/<uuid:template_id>/cookbooks/",
        catalogue.PlatformCookbookCreateApi.as_view(),
        name="platform-cookbooks",
    ),
    path(
        C + "cookbooks/<uuid:cookbook_id>/recipes/",
        catalogue.PlatformRecipeCreateApi.as_view(),
        name="platform-recipes",
    ),
    path(C + "skills/", catalogue.PlatformSkillCreateApi.as_view(), name="platform-skills"),
    path(C + "skills/<uuid:skill_id>/", catalogue.PlatformSkillDetailApi.as_view(), name="platform-skill"),
    # Agents and their skills
    path(T + "agents/", agents.AgentListCreateApi.as_view(), name="agents"),
    path(A, agents.AgentDetailApi.as_view(), name="agent"),
    path(A + "pause", agents.AgentPauseApi.as_view(), name="agent-pause"),
    path(A + "resume", agents.AgentResumeApi.as_view(), name="agent-resume"),
    path(A + "status", agents.AgentStatusApi.as_view(), name="agent-status"),
    path(A + "share", agents.AgentShareApi.as_view(), name="agent-share"),
    path(A + "skills/", agents.AgentSkillListApi.as_view(), name="agent-skills"),
    path(A + "channels/", channels.AgentChannelListApi.as_view(), name="agent-channels"),
    path(A + "channels/<uuid:channel_id>", channels.AgentChannelDetailApi.as_view(), name="agent-channel"),
    path(
        T + "skill-installations/<uuid:installation_id>/",
        agents.InstallationDetailApi.as_view(),
        name="skill-installation",
    ),
    # Sessions
    path(T + "sessions/", sessions.SessionListCreateApi.as_view(), name="sessions"),
    path(S, sessions.SessionDetailApi.as_view(), name="session"),
    path(S + "tree", sessions.SessionTreeApi.as_view(), name="session-tree"),
    path(S + "spawn", sessions.SessionSpawnApi.as_view(), name="session-spawn"),
    path(S + "usage", sessions.SessionUsageApi.as_view(), name="session-usage"),
    path(S + "complete", sessions.SessionCompleteApi.as_view(), name="session-complete"),
    path(S + "fail", sessions.SessionFailApi.as_view(), name="session-fail"),
    path(S + "cancel", sessions.SessionCancelApi.as_view(), name="session-cancel"),
    # Container health
    path(T + "health", health.HealthApi.as_view(), name="health"),
    path(T + "health/hourly", health.HealthHourlyApi.as_view(), name="health-hourly"),
    # The task queue
    path(T + "tasks/", tasks.TaskListCreateApi.as_view(), name="tasks"),
    path(T + "tasks/claim", tasks.TaskClaimApi.as_view(), name="tasks-claim"),
    path(T + "tasks/complete", tasks.TaskCompleteBatchApi.as_view(), name="tasks-complete"),
    path(K, tasks.TaskDetailApi.as_view(), name="task"),
    path(K + "heartbeat", tasks.TaskHeartbeatApi.as_view(), name="task-heartbeat"),
    path(K + "complete", tasks.TaskCompleteApi.as_view(), name="task-complete"),
    path(K + "fail", tasks.TaskFailApi.as_view(), name="task-fail"),
    path(K + "cancel", tasks.TaskCancelApi.as_view(), name="task-cancel"),
    path(K + "retry", tasks.TaskRetryApi.as_view(), name="task-retry"),
    # Telemetry: the activity feed, hourly metrics, A/B results of recipes
    path(T + "activity/", telemetry.ActivityListApi.as_view(), name="activity"),
    path(A + "activity", telemetry.AgentActivityApi.as_view(), name="agent-activity"),
    path(A + "metrics", telemetry.AgentMetricsApi.as_view(), name="agent-metrics"),
    path("platform/ab-tests/", telemetry.AbResultListCreateApi.as_view(), name="ab-results"),
    path("ab-tests/<uuid:recipe_id>/compare", telemetry.AbCompareApi.as_view(), name="ab-compare"),
    # The live stream: a single-use ticket for the websocket, and who is connected
    path(T + "stream-ticket", stream.StreamTicketApi.as_view(), name="stream-ticket"),
    path(T + "stream-connections", stream.StreamConnectionListApi.as_view(), name="stream-connections"),
]
