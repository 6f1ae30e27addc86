"""Print a new VAPID key pair for web push, as environment variables (docs/channels.md)."""

from django.core.management.base import BaseCommand

from marketing.campaigns.channels.vapid import generate_keys


class Command(BaseCommand):
    help = "Print a new VAPID key pair for web push notifications, to put in the store's environment."

    def handle(self, *args, **options):
        public, private = generate_keys()
        self.stdout.write(f"CAMPAIGNS_VAPID_PUBLIC_KEY={public}\nCAMPAIGNS_VAPID_PRIVATE_KEY={private}\n")
        self.stderr.write(
            "Keep the private key secret. Browsers subscribe with the public key: changing the pair later "
            "stops every existing subscription (customers turn notifications on again)."
        )
