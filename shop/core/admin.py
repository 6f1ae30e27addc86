from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the store itself (payments, refunds, redemptions): shown, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
