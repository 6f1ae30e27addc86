"""The board's storefront pages (/ads/): thin. They read what was sent, call services and
selectors, and render. Objects are found only through what checks who may see them
(Ad.objects.visible_to, selectors.conversation_for), so a stranger gets 404 for another
member's unpublished ad or conversation. A refusal from a service (ShopError, ValidationError)
is shown on the page with its 4xx status, never a 500."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketing.adboard import cache as board_cache
from marketing.adboard import search, selectors, services
from marketing.adboard.forms import (
    AdForm,
    MessageForm,
    RatingForm,
    RatingReplyForm,
    ReportForm,
    SaveSearchForm,
)
from marketing.adboard.models import Ad, AdPhoto, Condition, Conversation, Member, Message, Rating, SavedAd, SavedSearch
from shop.core.errors import ShopError
from shop.core.templatetags.shop_tags import money

PAGE_SIZE = 24


# -- helpers ------------------------------------------------------------------------------------


def _messages_of(error) -> list[str]:
    if isinstance(error, ShopError):
        return [str(error.message)]
    return list(error.messages)


def _status(error) -> int:
    return error.status_code if isinstance(error, ShopError) else 400


def _next(request, default: str) -> str:
    """Where to go after an action: the form's `next` when it is on this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _problem(request, error, *, back: str):
    """A refused action: its message on a page, with the refusal's status and a way back."""
    return render(
        request,
        "adboard/problem.html",
        {"errors": _messages_of(error), "back": back},
        status=_status(error),
    )


def _visible_ad(request, pk) -> Ad:
    ad = Ad.objects.visible_to(request.user).select_related("category").filter(pk=pk).first()
    if ad is None:
        raise Http404(_("This ad is not on the board."))
    return ad


def _page(request, queryset, size=PAGE_SIZE):
    try:
        return Paginator(queryset, size).page(request.GET.get("page") or 1), None
    except PageNotAnInteger:
        return None, (_("The page number must be a whole number."), 400)
    except EmptyPage:
        return None, (_("There is no such page in this list."), 404)


def _unread(request) -> int:
    return selectors.unread_count(request.user) if request.user.is_authenticated else 0


# -- the list and search ------------------------------------------------------------------------


def _chips(filters: search.Filters, path: str) -> list[dict]:
    """Each active filter as a chip whose link is the same list without it."""
    pairs = filters.pairs()
    category = selectors.category_by_slug(filters.category) if filters.category else None
    fields = {f.key: f for f in selectors.fields_for(category)} if category else {}
    conditions = dict(Condition.choices)
    chips = []
    for i, (name, value) in enumerate(pairs):
        if name == "q":
            label = f"“{value}”"
        elif name == "category":
            if path != reverse("adboard:list"):
                continue  # a category page: going up is the category links' job
            label = str(category) if category else value
        elif name == "min_price":
            label = _("From %(price)s") % {"price": money(value)}
        elif name == "max_price":
            label = _("Up to %(price)s") % {"price": money(value)}
        elif name in ("region", "city"):
            label = value
        elif name == "condition":
            label = str(conditions.get(value, value))
        elif name == "photos":
            label = _("With photos")
        elif name == "free":
            label = _("Free")
        else:
            key = name[2:]
            bound = ""
            for suffix in ("_min", "_max"):
                if key.endswith(suffix) and key[: -len(suffix)] in fields:
                    key, bound = key[: -len(suffix)], suffix
            field = fields.get(key)
            title = field.label if field else key
            if bound == "_min":
                label = _("%(label)s from %(value)s") % {"label": title, "value": value}
            elif bound == "_max":
                label = _("%(label)s up to %(value)s") % {"label": title, "value": value}
            elif value == "1" and field is not None and field.kind == "yes_no":
                label = title
            else:
                label = f"{title}: {value}"
        rest = pairs[:i] + pairs[i + 1 :]
        if filters.sort:
            rest.append(("sort", filters.sort))
        query = urlencode(rest)
        chips.append({"label": label, "url": path + (f"?{query}" if query else "")})
    return chips


def _detail_filters(category, filters: search.Filters) -> list[dict]:
    """The chosen category's filterable details, with what is set now."""
    if category is None:
        return []
    shown = []
    for field in selectors.fields_for(category):
        if not field.filterable or field.kind == "text":
            continue
        value = filters.details.get(field.key)
        entry = {"field": field, "name": f"f_{field.key}"}
        if field.kind == "number":
            low, high = value if isinstance(value, tuple) else (None, None)
            entry.update(low=low, high=high)
        elif field.kind == "choice":
            entry["chosen"] = value if isinstance(value, list) else []
        else:
            entry["checked"] = value is True
        shown.append(entry)
    return shown


def _category_links(category, counts: dict[int, int]) -> dict:
    if category is None:
        return {"up": None, "current": None, "children": [(c, counts.get(c.pk, 0)) for c in selectors.roots()]}
    chain = selectors.ancestors(category)
    return {
        "up": chain[-2] if len(chain) > 1 else None,
        "current": (category, counts.get(category.pk, 0)),
        "children": [(c, counts.get(c.pk, 0)) for c in selectors.children(category)],
        "chain": chain,
    }


SAVE_SEARCH = "<!--save-search-->"


def ad_list(request, slug=None):
    """All public ads, a category's (with its sub-categories), or a search: filtered, sorted, paged.

    The results, filters and counts are the same for every visitor: kept whole (cache.py) and the
    member's save-search form put in after."""
    data = request.GET.copy()
    if slug is not None:
        if selectors.category_by_slug(slug) is None:
            raise Http404(_("There is no such category on the board."))
        data["category"] = slug
    filters = search.Filters.parse(data)
    category = selectors.category_by_slug(filters.category) if filters.category else None
    if category is not None:
        title = category.name
    elif filters.q:
        title = _("Ads for “%(q)s”") % {"q": filters.q}
    else:
        title = _("Ad board")

    def build():
        ads = selectors.cards(search.apply(filters, Ad.objects.public()))
        page, page_error = _page(request, ads)
        status = 400 if filters.errors else 200
        if page_error:
            status = page_error[1]
        context = {
            "title": title,
            "filters": filters,
            "category": category,
            "categories": _category_links(category, selectors.category_counts()),
            "page": page,
            "page_error": page_error[0] if page_error else "",
            "chips": _chips(filters, request.path),
            "detail_filters": _detail_filters(category, filters),
            "conditions": Condition.choices,
            "sorts": [(k, v) for k, v in search.SORTS.items() if k != "relevance" or filters.q],
            "sort": filters.sort or ("relevance" if filters.q else "newest"),
        }
        html = render_to_string("adboard/_list_main.html", context, request=request)
        if status != 200:
            return (html, status), timezone.now()  # an answer to a mistake is not kept
        shown = [ad.expires_at for ad in page.object_list if ad.expires_at]
        return (html, status, filters.corrected), min(shown, default=None)

    if filters.errors or not search.known_params(request.GET):
        found = build()[0]
    else:
        parts = (request.path, filters.query_string(with_sort=True), request.GET.get("page", ""), get_language())
        found = board_cache.kept("list", parts, build)
    main, status = found[0], found[1]
    save = ""
    if request.user.is_authenticated and filters.active:
        save = render_to_string(
            "adboard/_save_search.html",
            {"filters": filters, "query": filters.query_string()},
            request=request,
        )
    context = {"title": title, "main": mark_safe(main.replace(SAVE_SEARCH, save, 1)), "unread": _unread(request)}  # noqa: S308
    return render(request, "adboard/list.html", context, status=status)


# -- one ad -------------------------------------------------------------------------------------


def _renewable(ad: Ad) -> bool:
    if ad.status == Ad.Status.EXPIRED:
        return True
    soon = timezone.now() + dt.timedelta(days=settings.ADBOARD_REMINDER_DAYS)
    return ad.status == Ad.Status.PUBLISHED and ad.expires_at is not None and ad.expires_at <= soon


def _detail_context(request, ad: Ad, **extra) -> dict:
    user = request.user
    member = getattr(ad.owner, "board", None) if _has_board(ad.owner) else None
    mine = user.is_authenticated and ad.owner_id == user.pk
    context = {
        "ad": ad,
        "photos": list(ad.photos.all()),
        "fields": selectors.fields_for(ad.category),
        "chain": selectors.ancestors(ad.category),
        "rating": selectors.rating_summary(member),
        "seller_ads": Ad.objects.public().filter(owner_id=ad.owner_id).count(),
        "similar": selectors.similar(ad) if ad.is_public else [],
        "mine": mine,
        "renewable": mine and _renewable(ad),
        "editable": mine and ad.status not in (Ad.Status.SOLD, Ad.Status.EXPIRED),
        "active": mine and ad.status in Ad.ACTIVE,
        "message_form": MessageForm(),
        "report_form": ReportForm(initial={"kind": "ad", "id": ad.pk}),
        "saved": False,
        "conversation": None,
        "unread": _unread(request),
    }
    if user.is_authenticated and not mine:
        context["saved"] = SavedAd.objects.filter(user=user, ad=ad).exists()
        context["conversation"] = Conversation.objects.filter(ad=ad, buyer=user).first()
    context.update(extra)
    return context


def _has_board(user) -> bool:
    try:
        user.board  # noqa: B018  (select_related read it; a member without a row has no rating)
    except Member.DoesNotExist:
        return False
    return True


def ad_detail(request, pk, slug):
    ad = selectors.ad_detail(pk, request.user)
    if ad is None:
        raise Http404(_("This ad is not on the board."))
    if slug != (slugify(ad.title)[:60] or "ad"):
        return redirect(ad.get_absolute_url(), permanent=True)
    return render(request, "adboard/detail.html", _detail_context(request, ad))


@require_POST
@login_required
def contact(request, pk):
    ad = _visible_ad(request, pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            message = services.contact(ad, request.user, form.cleaned_data["body"])
        except (ShopError, ValidationError) as error:
            for text in _messages_of(error):
                messages.error(request, text)  # shown at the top of the page, whoever sees the form
            status = _status(error)
        else:
            messages.success(request, _("Your message is sent. The seller's answer will appear in your messages."))
            return redirect("adboard:conversation", message.conversation_id)
    else:
        status = 400
    ad = selectors.ad_detail(pk, request.user)
    return render(request, "adboard/detail.html", _detail_context(request, ad, message_form=form), status=status)


# -- posting and the seller's own ads -----------------------------------------------------------


def _choose_category(request, *, ad=None):
    groups = []
    leaves = selectors.leaves()
    for root in selectors.roots():
        children = [c for c in leaves if c.parent_id == root.pk]
        groups.append((root, children or ([root] if root in leaves else [])))
    return render(request, "adboard/choose_category.html", {"groups": groups, "ad": ad, "unread": _unread(request)})


def _leaf(slug):
    category = selectors.category_by_slug(slug or "")
    if category is None or category not in selectors.leaves():
        return None
    return category


@login_required
def post(request):
    """Step 1: the category (only the most precise ones); step 2: the form with its details."""
    category = _leaf(request.POST.get("category") or request.GET.get("category"))
    if category is None:
        return _choose_category(request)
    if request.method != "POST":
        form = AdForm(category=category)
        return _post_page(request, form, category)
    form = AdForm(request.POST, request.FILES, category=category)
    if form.is_valid():
        try:
            ad = services.ad_create(
                request.user, category=category, photos=form.cleaned_data["photos"], **form.values()
            )
        except ValidationError as error:
            form.add_service_error(error)
            status = 400
        except ShopError as error:
            form.add_error(None, str(error.message))
            status = error.status_code
        else:
            if ad.status == Ad.Status.PENDING:
                messages.success(request, _("Your ad is sent. A moderator checks it before it is shown."))
            else:
                messages.success(request, _("Your ad is published."))
            return redirect(ad.get_absolute_url())
    else:
        status = 400
    return _post_page(request, form, category, status=status)


def _post_page(request, form, category, *, ad=None, status=200):
    context = {
        "form": form,
        "category": category,
        "chain": selectors.ancestors(category),
        "ad": ad,
        "max_photos": settings.ADBOARD_MAX_PHOTOS,
        "unread": _unread(request),
    }
    return render(request, "adboard/post.html", context, status=status)


def _own_ad(request, pk) -> Ad:
    """An ad the member may see; the services refuse (403) if it is not theirs."""
    ad = _visible_ad(request, pk)
    if ad.owner_id != request.user.pk:
        raise services.Forbidden(_("Only the seller can change this ad."))
    return ad


@login_required
def edit(request, pk):
    try:
        ad = _own_ad(request, pk)
    except ShopError as error:
        return _problem(request, error, back=reverse("adboard:list"))
    if "category" in request.GET and not request.GET["category"]:
        return _choose_category(request, ad=ad)
    category = _leaf(request.POST.get("category") or request.GET.get("category")) or ad.category
    if request.method != "POST":
        initial = AdForm.initial_for(ad)
        return _post_page(request, AdForm(initial=initial, category=category, ad=ad), category, ad=ad)
    form = AdForm(request.POST, request.FILES, category=category, ad=ad)
    status = 400
    if form.is_valid():
        try:
            ad = services.ad_update(
                ad,
                request.user,
                category=category,
                photos_add=form.cleaned_data["photos"],
                photos_remove=[p.pk for p in form.cleaned_data["remove_photos"]],
                **form.values(),
            )
        except ValidationError as error:
            form.add_service_error(error)
        except ShopError as error:
            form.add_error(None, str(error.message))
            status = error.status_code
        else:
            if ad.status == Ad.Status.PENDING:
                messages.success(request, _("Your changes are saved. A moderator checks the ad before it is shown."))
            else:
                messages.success(request, _("Your changes are saved."))
            return redirect(ad.get_absolute_url())
    return _post_page(request, form, category, ad=ad, status=status)


def _owner_action(action, done: str):
    @require_POST
    @login_required
    def view(request, pk):
        back = _next(request, reverse("adboard:mine"))
        try:
            ad = _own_ad(request, pk)
            action(ad, request.user)
        except (ShopError, ValidationError) as error:
            return _problem(request, error, back=back)
        messages.success(request, done)
        return redirect(back)

    return view


renew = _owner_action(services.ad_renew, _("Your ad is renewed."))
sold = _owner_action(services.ad_mark_sold, _("Your ad is marked sold."))
delete = _owner_action(services.ad_delete, _("Your ad is deleted."))


@login_required
def mine(request):
    ads = list(
        Ad.objects.filter(owner=request.user)
        .exclude(status=Ad.Status.DELETED)
        .select_related("category")
        .prefetch_related(Prefetch("photos", queryset=AdPhoto.objects.order_by("position", "id")))
        .order_by("-created_at", "-id")
    )
    for ad in ads:
        ad.renewable = _renewable(ad)
    context = {
        "ads": ads,
        "active": sum(1 for ad in ads if ad.status in Ad.ACTIVE),
        "quota": settings.ADBOARD_MAX_ACTIVE_ADS,
        "unread": _unread(request),
    }
    return render(request, "adboard/mine.html", context)


# -- saving -------------------------------------------------------------------------------------


@require_POST
@login_required
def save(request, pk):
    ad = _visible_ad(request, pk)
    back = _next(request, ad.get_absolute_url())
    try:
        services.ad_save(ad, request.user)
    except ShopError as error:
        return _problem(request, error, back=back)
    messages.success(request, _("Saved. Your saved ads are under “Saved”."))
    return redirect(back)


@require_POST
@login_required
def unsave(request, pk):
    ad = SavedAd.objects.filter(user=request.user, ad_id=pk).select_related("ad").first()
    if ad is None:
        raise Http404(_("This ad is not among your saved ads."))
    services.ad_unsave(ad.ad, request.user)
    messages.success(request, _("Removed from your saved ads."))
    return redirect(_next(request, reverse("adboard:saved")))


@require_POST
@login_required
def search_save(request):
    form = SaveSearchForm(request.POST)
    query = request.POST.get("query", "")
    back = reverse("adboard:list") + (f"?{query}" if query else "")
    if not form.is_valid():
        return _problem(request, ValidationError(_("This search cannot be saved.")), back=back)
    try:
        services.search_save(
            request.user,
            query=form.cleaned_data["query"],
            name=form.cleaned_data["name"],
            alerts=form.cleaned_data["alerts"],
        )
    except (ShopError, ValidationError) as error:
        return _problem(request, error, back=back)
    messages.success(request, _("Search saved. New ads that match it will be emailed to you."))
    return redirect(back)


@require_POST
@login_required
def search_delete(request, pk):
    saved = SavedSearch.objects.filter(pk=pk, user=request.user).first()
    if saved is None:
        raise Http404(_("No such saved search."))
    services.search_delete(saved, request.user)
    messages.success(request, _("Saved search deleted."))
    return redirect("adboard:saved")


@login_required
def saved(request):
    saves = (
        SavedAd.objects.filter(user=request.user)
        .select_related("ad__category", "ad__owner__board")
        .prefetch_related(Prefetch("ad__photos", queryset=AdPhoto.objects.order_by("position", "id")))
        .order_by("-created_at")
    )
    context = {
        "saves": list(saves),
        "searches": list(SavedSearch.objects.filter(user=request.user).order_by("-created_at")),
        "unread": _unread(request),
    }
    return render(request, "adboard/saved.html", context)


# -- messages -----------------------------------------------------------------------------------


@login_required
def inbox(request):
    conversations = list(selectors.conversations_of(request.user))
    groups: dict[int, dict] = {}
    for conversation in conversations:
        conversation.unread = conversation.unread_for(request.user)
        conversation.other_member = conversation.other(request.user)
        group = groups.setdefault(conversation.ad_id, {"ad": conversation.ad, "conversations": []})
        group["conversations"].append(conversation)
    context = {
        "groups": list(groups.values()),
        "unread": sum(1 for c in conversations if c.unread),
    }
    return render(request, "adboard/inbox.html", context)


@login_required
def conversation(request, pk):
    found = selectors.conversation_for(pk, request.user)
    if found is None:
        raise Http404(_("No such conversation."))
    form = MessageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.reply(found, request.user, form.cleaned_data["body"])
            except (ShopError, ValidationError) as error:
                form.add_error(None, _messages_of(error))
                status = _status(error)
            else:
                return redirect("adboard:conversation", found.pk)
        else:
            status = 400
    services.conversation_read(found, request.user)
    member = request.user.pk in (found.buyer_id, found.seller_id)
    context = {
        "conversation": found,
        "thread": list(selectors.messages_of(found, viewer=request.user)),
        "form": form,
        "member": member,
        "other": found.other(request.user) if member else None,
        "can_rate": member and request.user.pk == found.buyer_id,
        "unread": _unread(request),
    }
    return render(request, "adboard/conversation.html", context, status=status)


# -- sellers and ratings ------------------------------------------------------------------------


def _seller(pk):
    member = Member.objects.select_related("user").filter(user_id=pk, user__is_active=True).first()
    if member is None:
        raise Http404(_("No such seller on the board."))
    return member


def seller(request, pk, *, rate_form=None, reply_forms=None, status=200):
    member = _seller(pk)
    user = request.user
    ratings = list(selectors.seller_ratings(member.user, viewer=user if user.is_authenticated else None))
    mine = None
    if user.is_authenticated:
        mine = next((r for r in ratings if r.rater_id == user.pk), None)
        if mine is None:
            mine = Rating.objects.filter(seller=member.user, rater=user).first()
    can_rate = user.is_authenticated and services.can_rate(user, member.user)
    if rate_form is None and can_rate:
        rate_form = RatingForm(initial={"stars": mine.stars, "comment": mine.comment} if mine else None)
    ads = list(selectors.seller_public_ads(member.user)[:PAGE_SIZE])
    context = {
        "member": member,
        "seller": member.user,
        "rating": selectors.rating_summary(member),
        "ratings": ratings,
        "ads": ads,
        "ad_count": Ad.objects.public().filter(owner=member.user).count(),
        "can_rate": can_rate,
        "rate_form": rate_form,
        "my_rating": mine,
        "is_seller": user.is_authenticated and user.pk == member.user_id,
        "reply_forms": reply_forms or {},
        "reply_form": RatingReplyForm(),
        "report_form": ReportForm(),
        "unread": _unread(request),
    }
    return render(request, "adboard/seller.html", context, status=status)


@require_POST
@login_required
def rate(request, pk):
    member = _seller(pk)
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            _rating, created = services.rating_set(
                member.user, request.user, stars=form.cleaned_data["stars"], comment=form.cleaned_data["comment"]
            )
        except (ShopError, ValidationError) as error:
            form.add_error(None, _messages_of(error))
            return seller(request, pk, rate_form=form, status=_status(error))
        done = _("Thank you: your rating is published.") if created else _("Your rating is updated.")
        messages.success(request, done)
        return redirect(reverse("adboard:seller", args=[pk]) + "#ratings")
    return seller(request, pk, rate_form=form, status=400)


@require_POST
@login_required
def rating_reply(request, pk):
    rating = Rating.objects.filter(pk=pk, seller=request.user).first()
    if rating is None:
        raise Http404(_("No such rating."))
    form = RatingReplyForm(request.POST)
    if form.is_valid():
        try:
            services.rating_reply(rating, request.user, form.cleaned_data["reply"])
        except (ShopError, ValidationError) as error:
            for text in _messages_of(error):
                messages.error(request, text)
            return seller(request, rating.seller_id, reply_forms={rating.pk: form}, status=_status(error))
        messages.success(request, _("Your reply is published."))
        return redirect(reverse("adboard:seller", args=[rating.seller_id]) + f"#rating-{rating.pk}")
    return seller(request, rating.seller_id, reply_forms={rating.pk: form}, status=400)


# -- reports ------------------------------------------------------------------------------------


def _report_target(request, kind: str, pk: int):
    user = request.user
    if kind == "ad":
        return {"ad": _visible_ad(request, pk)}
    if kind == "message":
        found = Message.objects.filter(pk=pk).select_related("conversation").first()
        if found is None or selectors.conversation_for(found.conversation_id, user) is None:
            raise Http404(_("No such message."))
        return {"message": found}
    found = Rating.objects.filter(pk=pk, hidden=False).first()
    if found is None:
        raise Http404(_("No such rating."))
    return {"rating": found}


@require_POST
@login_required
def report(request):
    form = ReportForm(request.POST)
    back = _next(request, reverse("adboard:list"))
    if not form.is_valid():
        errors = [e for errors in form.errors.values() for e in errors]
        return _problem(request, ValidationError(errors), back=back)
    target = _report_target(request, form.cleaned_data["kind"], form.cleaned_data["id"])
    try:
        services.report(
            request.user, reason=form.cleaned_data["reason"], comment=form.cleaned_data["comment"], **target
        )
    except (ShopError, ValidationError) as error:
        return _problem(request, error, back=back)
    messages.success(request, _("Thank you: a moderator will look at your report."))
    return redirect(back)
