from django.urls import path

from billing.api import views

T = "tenants/<uuid:tenant_id>/"
R = T + "usage/reservations/<uuid:reservation_id>"

urlpatterns = [
    path("billing/plans", views.PlanListApi.as_view(), name="billing-plans"),
    path("billing/prices", views.PriceListApi.as_view(), name="billing-prices"),
    path(T + "credits", views.CreditSummaryApi.as_view(), name="credits"),
    path(
        T + "credits/transactions", views.CreditTransactionListCreateApi.as_view(), name="credit-transactions"
    ),
    path(
        T + "credits/transactions/<uuid:transaction_id>",
        views.CreditTransactionDetailApi.as_view(),
        name="credit-transaction",
    ),
    path(T + "credits/statement.csv", views.CreditStatementApi.as_view(), name="credit-statement"),
    path(T + "credits/spend", views.CreditSpendApi.as_view(), name="credit-spend"),
    path(T + "credits/thresholds", views.ThresholdListCreateApi.as_view(), name="credit-thresholds"),
    path(
        T + "credits/thresholds/<uuid:threshold_id>",
        views.ThresholdDetailApi.as_view(),
        name="credit-threshold",
    ),
    path(T + "subscription", views.SubscriptionApi.as_view(), name="subscription"),
    path(T + "usage", views.UsageChargeApi.as_view(), name="usage"),
    path(T + "usage/batch", views.UsageBatchApi.as_view(), name="usage-batch"),
    path(T + "usage/reservations", views.ReservationListCreateApi.as_view(), name="reservations"),
    path(R, views.ReservationDetailApi.as_view(), name="reservation"),
    path(R + "/settle", views.ReservationSettleApi.as_view(), name="reservation-settle"),
    path(R + "/release", views.ReservationReleaseApi.as_view(), name="reservation-release"),
]
