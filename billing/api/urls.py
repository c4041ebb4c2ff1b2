from django.urls import path

from billing.api import catalogue, credits, reservations, statements, subscription, thresholds, usage

T = "tenants/<uuid:tenant_id>/"
R = T + "usage/reservations/<uuid:reservation_id>"

# The routes agent runtimes call for every model call come first: Django tries patterns in order.
urlpatterns = [
    path(T + "usage", usage.UsageChargeApi.as_view(), name="usage"),
    path(T + "usage/batch", usage.UsageBatchApi.as_view(), name="usage-batch"),
    path("billing/plans", catalogue.PlanListApi.as_view(), name="billing-plans"),
    path("billing/prices", catalogue.PriceListApi.as_view(), name="billing-prices"),
    path(T + "credits", credits.CreditSummaryApi.as_view(), name="credits"),
    path(
        T + "credits/transactions",
        credits.CreditTransactionListCreateApi.as_view(),
        name="credit-transactions",
    ),
    path(
        T + "credits/transactions/<uuid:transaction_id>",
        credits.CreditTransactionDetailApi.as_view(),
        name="credit-transaction",
    ),
    path(T + "credits/statement.csv", statements.CreditStatementApi.as_view(), name="credit-statement"),
    path(T + "credits/spend", statements.CreditSpendApi.as_view(), name="credit-spend"),
    path(T + "credits/thresholds", thresholds.ThresholdListCreateApi.as_view(), name="credit-thresholds"),
    path(
        T + "credits/thresholds/<uuid:threshold_id>",
        thresholds.ThresholdDetailApi.as_view(),
        name="credit-threshold",
    ),
    path(T + "subscription", subscription.SubscriptionApi.as_view(), name="subscription"),
    path(T + "usage/reservations", reservations.ReservationListCreateApi.as_view(), name="reservations"),
    path(R, reservations.ReservationDetailApi.as_view(), name="reservation"),
    path(R + "/settle", reservations.ReservationSettleApi.as_view(), name="reservation-settle"),
    path(R + "/release", reservations.ReservationReleaseApi.as_view(), name="reservation-release"),
]
