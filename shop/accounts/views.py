from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.accounts import limits, privacy, services
from shop.accounts.forms import AddressForm, EmailLoginForm, EraseAccountForm, ProfileForm, RegisterForm
from shop.accounts.models import ConsentSource
from shop.core.errors import RateLimited, ShopError
from shop.core.forms import NoColonLabels


class LoginView(auth_views.LoginView):
    """Email login; guessing is stopped by the store's one lockout policy (shop/accounts/lockout.py)."""

    form_class = EmailLoginForm
    template_name = "account/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        status = 429 if form.is_locked_out() else 200
        return self.render_to_response(self.get_context_data(form=form), status=status)


def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        try:
            limits.registration_attempt(request)
        except RateLimited as exc:
            form.errors.clear()  # the limit is the answer, whatever was typed
            form.add_error(None, exc.message)
            return render(request, "account/register.html", {"form": form}, status=exc.status_code)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.customer_register(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error("password", exc)
        except ShopError as exc:
            form.add_error(exc.field, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %(shop)s! Your account is ready.") % {"shop": settings.SHOP_NAME})
            next_url = request.GET.get("next")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = None  # never send a new customer off-site
            return redirect(next_url or "accounts:profile")
    status = 400 if form.errors else 200
    return render(request, "account/register.html", {"form": form}, status=status)


@login_required
def profile(request):
    profile = services.profile_get(user=request.user)
    initial = {"first_name": request.user.first_name, "last_name": request.user.last_name}
    consents = services.consents_of(user=request.user)
    form = ProfileForm(request.POST or None, instance=profile, initial=initial, consents=consents)
    if request.method == "POST" and form.is_valid():
        answers = form.consent_answers()
        services.profile_update(user=request.user, **form.cleaned_data)
        services.consents_update(user=request.user, answers=answers, source=ConsentSource.PROFILE)
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    context = {
        "form": form,
        "addresses": request.user.addresses.all(),
        # Other apps' panels (loyalty points...), included by name: the shop does not import them.
        "account_panels": settings.SHOP_ACCOUNT_PANELS,
    }
    return render(request, "account/profile.html", context, status=400 if form.errors else 200)


@login_required
def address_edit(request, pk=None):
    address = request.user.addresses.filter(pk=pk).first() if pk is not None else None
    if pk is not None and address is None:
        return render(request, "404.html", {"message": _("Address not found.")}, status=404)
    form = AddressForm(request.POST or None, instance=address)
    if request.method == "POST" and form.is_valid():
        if address:
            services.address_update(user=request.user, address_id=address.pk, **form.cleaned_data)
        else:
            services.address_create(user=request.user, **form.cleaned_data)
        messages.success(request, _("Address saved."))
        return redirect("accounts:profile")
    return render(
        request, "account/address_form.html", {"form": form, "address": address}, status=400 if form.errors else 200
    )


@login_required
@require_POST
def address_delete(request, pk):
    try:
        services.address_delete(user=request.user, address_id=pk)
    except ShopError as exc:
        return render(request, "404.html", {"message": exc.message}, status=exc.status_code)
    messages.success(request, _("Address deleted."))
    return redirect("accounts:profile")


def _data_page(request, *, form=None, error: str = "", status: int = 200):
    context = {
        "form": form or EraseAccountForm(user=request.user),
        "blockers": privacy.erasure_blockers(user=request.user),
        "summary": privacy.erasure_summary(),
        "error": error,
    }
    return render(request, "account/data.html", context, status=status)


@login_required
def data(request):
    """Your data: download all of it, or erase the account."""
    return _data_page(request)


@login_required
@require_POST
def data_download(request):
    """Everything the store holds about the customer, as a JSON file (docs/privacy.md)."""
    try:
        limits.data_export_attempt(request.user)
    except RateLimited as exc:
        return _data_page(request, error=exc.message, status=exc.status_code)
    document = privacy.customer_data_export(user=request.user)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    name = f"{slugify(settings.SHOP_NAME) or 'store'}-data-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def data_erase(request):
    """Erase the account, after the password: the customer is logged out and sees what happened."""
    form = EraseAccountForm(request.POST, user=request.user)
    try:
        limits.erasure_attempt(request.user)
    except RateLimited as exc:
        return _data_page(request, form=EraseAccountForm(user=request.user), error=exc.message, status=429)
    if not form.is_valid():
        return _data_page(request, form=form, status=400)
    try:
        privacy.customer_erase(user=request.user, requested_by="self")
    except ShopError as exc:
        return _data_page(request, form=EraseAccountForm(user=request.user), error=exc.message, status=exc.status_code)
    logout(request)
    return redirect("accounts:erased")


def erased(request):
    """The confirmation, once logged out: what was erased and what was kept."""
    return render(request, "account/erased.html")


class PasswordResetForm(NoColonLabels, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(NoColonLabels, auth_forms.SetPasswordForm):
    pass


class PasswordResetView(auth_views.PasswordResetView):
    """Sends the reset link, at most a few times per hour per address and per client (shop/accounts/limits.py)."""

    form_class = PasswordResetForm
    template_name = "account/password_reset.html"
    email_template_name = "account/email/password_reset.txt"
    subject_template_name = "account/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        try:
            limits.password_reset_attempt(self.request, email=form.cleaned_data["email"])
        except RateLimited as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form), status=exc.status_code)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "account/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # The emailed link proves the inbox is theirs: a lockout on the account ends here.
        services.login_lockout_reset(email=form.user.email)
        return response


password_reset = PasswordResetView.as_view()
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="account/password_reset_done.html")
password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="account/password_reset_complete.html"
)
