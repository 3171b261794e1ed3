"""Every command route, in one table: the HTTP routes and the OpenAPI document are both
built from it, so they cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import Route

from shared.http.auth import KeyKind

from command_api.application import commands as c
from command_api.application import handlers as h
from command_api.application import placement
from command_api.entrypoints.http.execute import Handler, command_endpoint


@dataclass(frozen=True)
class CommandRoute:
    path: str
    command: type[c.Command]
    handler: Handler
    resource: str  # the query API collection the Location header points into
    summary: str
    allow: tuple[KeyKind, ...] = ("secret",)
    method: str = "POST"

    @property
    def creates(self) -> bool:
        return "{id}" not in self.path

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


PRODUCTS, ORDERS = "/v1/products", "/v1/orders"
COMMAND_ROUTES: list[CommandRoute] = [
    CommandRoute(PRODUCTS, c.CreateProduct, h.create_product, "products", "Create a product (SKU unique per merchant)"),
    CommandRoute(
        PRODUCTS + "/{id}",
        c.UpdateProductDetails,
        h.update_product,
        "products",
        "Update a product's name, description, category or attributes",
        method="PATCH",
    ),
    CommandRoute(PRODUCTS + "/{id}/price", c.ChangePrice, h.change_price, "products", "Change a product's price"),
    CommandRoute(
        PRODUCTS + "/{id}/stock",
        c.AdjustStock,
        h.adjust_stock,
        "products",
        "Adjust stock by a signed delta, with a reason",
    ),
    CommandRoute(
        PRODUCTS + "/{id}/publish", c.NoBody, h.publish_product, "products", "Put a product on the storefront"
    ),
    CommandRoute(
        PRODUCTS + "/{id}/unpublish", c.NoBody, h.unpublish_product, "products", "Take a product off the storefront"
    ),
    CommandRoute(
        PRODUCTS + "/{id}/archive",
        c.NoBody,
        h.archive_product,
        "products",
        "Archive a product (it accepts no further changes)",
    ),
    CommandRoute(
        ORDERS,
        c.PlaceOrder,
        placement.place_order,
        "orders",
        "Place an order (prices from the catalogue, stock reserved)",
        allow=("secret", "publishable"),
    ),
    CommandRoute(ORDERS + "/{id}/confirm", c.NoBody, h.confirm_order, "orders", "Confirm a placed order"),
    CommandRoute(ORDERS + "/{id}/pay", c.PayOrder, h.pay_order, "orders", "Record the order's payment"),
    CommandRoute(
        ORDERS + "/{id}/payment-failed",
        c.RecordPaymentFailure,
        h.record_payment_failure,
        "orders",
        "Record a failed payment attempt (the order stays payable)",
    ),
    CommandRoute(ORDERS + "/{id}/ship", c.ShipOrder, h.ship_order, "orders", "Ship a paid order"),
    CommandRoute(ORDERS + "/{id}/deliver", c.NoBody, h.deliver_order, "orders", "Record delivery of a shipped order"),
    CommandRoute(
        ORDERS + "/{id}/cancel",
        c.CancelOrder,
        placement.cancel_order,
        "orders",
        "Cancel an order before it ships (its stock goes back)",
    ),
    CommandRoute(ORDERS + "/{id}/refund", c.RefundOrder, h.refund_order, "orders", "Refund a paid order"),
    CommandRoute(
        "/v1/reports",
        c.RequestReport,
        h.request_report,
        "reports",
        "Request a sales report (CSV and PDF, built by the workers, link emailed)",
    ),
]


def starlette_routes() -> list[Route]:
    return [
        Route(r.path, command_endpoint(r.command, r.handler, r.resource, r.allow), methods=[r.method])
        for r in COMMAND_ROUTES
    ]
