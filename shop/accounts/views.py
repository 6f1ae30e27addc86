from django.conf import settings
from django.contrib import messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.accounts import services
from shop.accounts.forms import AddressForm, EmailLoginForm, ProfileForm, RegisterForm
from shop.core import ratelimit
from shop.core.errors import ShopError
from shop.core.forms import NoColonLabels


class LoginView(auth_views.LoginView):
    """Email login, limited per client address and per email so passwords cannot be guessed."""

    form_class = EmailLoginForm
    template_name = "account/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        limit, period = settings.SHOP_LOGIN_ATTEMPTS
        keys = [f"login:ip:{ratelimit.client_ip(request)}"]
        email = request.POST.get("username", "").strip().lower()
        if email:
            keys.append(f"login:email:{email}")
        if any(ratelimit.is_limited(key, limit=limit) for key in keys):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, _("Too many failed attempts. Wait 15 minutes, or reset your password."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if not request.user.is_authenticated:
            for key in keys:
                ratelimit.record_attempt(key, period=period)
        return response


def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegisterForm(request.POST or None)
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
    form = ProfileForm(request.POST or None, instance=profile, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, **form.cleaned_data)
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


class PasswordResetForm(NoColonLabels, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(NoColonLabels, auth_forms.SetPasswordForm):
    pass


password_reset = auth_views.PasswordResetView.as_view(
    form_class=PasswordResetForm,
    template_name="account/password_reset.html",
    email_template_name="account/email/password_reset.txt",
    subject_template_name="account/email/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="account/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    form_class=SetPasswordForm,
    template_name="account/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="account/password_reset_complete.html"
)
