"""/marketplace/orders: checkout, the caller's orders, refunds."""

from __future__ import annotations

from aiohttp import web

from veza.http import endpoint, ok, require_user, uuid_param
from veza.idempotency import HEADER, parse_key
from veza.keys import DB
from veza.marketplace import order_queries as queries
from veza.marketplace import orders, refunds
from veza.marketplace.order_models import OrderCreated, OrderIn, OrderList, OrderOut, OrdersQuery
from veza.marketplace.refund_models import RefundIn, RefundInitiated

routes = web.RouteTableDef()


@routes.post("/marketplace/orders")
@endpoint(
    "Check out: a pending order and its payment (send an Idempotency-Key header to retry safely)",
    body=OrderIn,
    response=OrderCreated,
    status=201,
    auth="user",
    tags=["marketplace"],
    errors=[409, 502],
    links={"/marketplace/orders/{id}": "/data/order/id", "/payments/sandbox/{payment_id}": "/data/payment/payment_id"},
)
async def create_order(request: web.Request, body: OrderIn) -> web.Response:
    user = require_user(request)
    answer = await orders.create_order(request.app, user, body, parse_key(request.headers.get(HEADER)))
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return ok(answer.data, status=answer.status, headers=headers)


@routes.get("/marketplace/orders")
@endpoint("The caller's orders, newest first", query=OrdersQuery, response=OrderList, auth="user", tags=["marketplace"])
async def my_orders(request: web.Request, query: OrdersQuery) -> web.Response:
    rows, total = await queries.buyer_orders(
        request.app[DB], require_user(request).id, limit=query.limit, offset=query.offset
    )
    return ok(OrderList(orders=rows, total=total))


@routes.get("/marketplace/orders/{id}")
@endpoint(
    "One order: its buyer's, or one holding an item the caller sells",
    response=OrderOut,
    auth="party",
    tags=["marketplace"],
)
async def get_order(request: web.Request) -> web.Response:
    row = await queries.visible_order(request.app[DB], uuid_param(request), require_user(request).id)
    return ok(OrderOut.model_validate(row))


@routes.post("/marketplace/orders/{id}/refund")
@endpoint(
    "Request a refund of a paid order within 14 days: its buyer, or a seller of one of its items "
    "(send an Idempotency-Key header to retry safely); the payment service settles it",
    body=RefundIn,
    response=RefundInitiated,
    auth="party",
    tags=["marketplace"],
    errors=[404, 409, 502, 503],
)
async def request_refund(request: web.Request, body: RefundIn) -> web.Response:
    user = require_user(request)
    key = parse_key(request.headers.get(HEADER))
    answer = await refunds.request_refund(request.app, user, uuid_param(request), body, key)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return ok(answer.data, status=answer.status, headers=headers)
