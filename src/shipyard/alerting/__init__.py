"""Alerting: rules on monitor results and rollout guard breaches, alerts that fire, get
acknowledged and resolve, and channels (webhook, Slack-compatible, email) that carry
their notifications."""

from shipyard.alerting.channels import CHANNELS, Channel, DeliveryError, register
from shipyard.alerting.delivery import notification
from shipyard.alerting.service import AlertService
from shipyard.alerting.spec import SEVERITIES, STATES, Alert, Delivery, Rule

__all__ = [
    "CHANNELS",
    "SEVERITIES",
    "STATES",
    "Alert",
    "AlertService",
    "Channel",
    "Delivery",
    "DeliveryError",
    "Rule",
    "notification",
    "register",
]
