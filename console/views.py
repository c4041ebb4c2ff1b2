"""The operator console. Pages arrive with the console issue; for now, the landing page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "console/home.html")
