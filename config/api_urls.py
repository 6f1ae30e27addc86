"""The REST API, /api/v1/ (docs/architecture.md, "The API"): the shop's routes and the marketing apps'."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from loyalty import api as loyalty_api
from marketing.adboard import api as adboard_api
from marketing.analytics import api as analytics_api
from marketing.assistant import api as assistant_api
from marketing.campaigns import api as campaigns_api
from marketing.discounts import api as discounts_api
from marketing.recommendations import api as recommendations_api
from shop.accounts import api as accounts_api
from shop.cart import api as cart_api
from shop.catalog import api as catalog_api
from shop.orders import api as orders_api
from shop.payments.webhooks import stripe_webhook

router = DefaultRouter()
router.register("categories", catalog_api.CategoryViewSet, basename="category")
router.register("products", catalog_api.ProductViewSet, basename="product")
router.register(r"products/(?P<product_slug>[-\w]+)/reviews", catalog_api.ReviewViewSet, basename="product-review")
router.register("account/addresses", accounts_api.AddressViewSet, basename="address")
router.register("orders", orders_api.OrderViewSet, basename="order")
router.register("promotions", discounts_api.PromotionViewSet, basename="promotion")
router.register("listings", adboard_api.ListingViewSet, basename="listing")
router.register("conversations", adboard_api.ConversationViewSet, basename="conversation")
router.register(r"sellers/(?P<seller_id>[0-9]+)/ratings", adboard_api.SellerRatingViewSet, basename="seller-rating")
router.register("saved-searches", adboard_api.SavedSearchViewSet, basename="saved-search")
router.register("marketing/campaigns", campaigns_api.CampaignViewSet, basename="campaign")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("auth/token/", accounts_api.TokenView.as_view(), name="token"),
    path("auth/register/", accounts_api.RegisterView.as_view(), name="register"),
    path("account/", accounts_api.AccountView.as_view(), name="account"),
    path("marketing/consent/", campaigns_api.ConsentView.as_view(), name="marketing-consent"),
    path("account/data/", accounts_api.AccountDataView.as_view(), name="account-data"),
    path("account/erase/", accounts_api.AccountEraseView.as_view(), name="account-erase"),
    path("cart/", cart_api.CartView.as_view(), name="cart"),
    path("cart/items/", cart_api.CartItemsView.as_view(), name="cart-items"),
    path("cart/items/<int:line_id>/", cart_api.CartItemView.as_view(), name="cart-item"),
    path("cart/discount-code/", discounts_api.CartDiscountCodeView.as_view(), name="cart-discount-code"),
    path("cart/points/", loyalty_api.CartPointsView.as_view(), name="cart-points"),
    path("loyalty/", loyalty_api.LoyaltyView.as_view(), name="loyalty"),
    path("loyalty/ledger/", loyalty_api.LedgerView.as_view(), name="loyalty-ledger"),
    path("loyalty/referral/", loyalty_api.ReferralView.as_view(), name="loyalty-referral"),
    path("analytics/sales/", analytics_api.SalesView.as_view(), name="analytics-sales"),
    path("analytics/funnel/", analytics_api.FunnelView.as_view(), name="analytics-funnel"),
    path("analytics/customers/", analytics_api.CustomersView.as_view(), name="analytics-customers"),
    path("analytics/marketing/", analytics_api.MarketingView.as_view(), name="analytics-marketing"),
    path("analytics/forecast/", analytics_api.ForecastView.as_view(), name="analytics-forecast"),
    path("assistant/messages/", assistant_api.MessagesView.as_view(), name="assistant-messages"),
    path(
        "assistant/conversations/<uuid:public_id>/",
        assistant_api.ConversationView.as_view(),
        name="assistant-conversation",
    ),
    path("assistant/telegram/", include("marketing.assistant.telegram_urls")),
    path("checkout/", orders_api.CheckoutView.as_view(), name="checkout"),
    path("orders/<str:number>/pay/", orders_api.OrderPayView.as_view(), name="order-pay"),
    path("orders/<str:number>/cancel/", orders_api.OrderCancelView.as_view(), name="order-cancel"),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path(
        "products/<slug:slug>/recommendations/",
        recommendations_api.ProductRecommendationsView.as_view(),
        name="product-recommendations",
    ),
    path("recommendations/", recommendations_api.RecommendationsView.as_view(), name="recommendations"),
    path("messages/<int:message_id>/report/", adboard_api.MessageReportView.as_view(), name="message-report"),
    path("ratings/<int:rating_id>/", adboard_api.RatingView.as_view(), name="rating"),
    path("ratings/<int:rating_id>/reply/", adboard_api.RatingReplyView.as_view(), name="rating-reply"),
    path("ratings/<int:rating_id>/report/", adboard_api.RatingReportView.as_view(), name="rating-report"),
    path("", include(router.urls)),
]
