"""Handlers of the trip-booking saga: bookings, their cancellations, and the card charge.

Run with ``legato run examples/saga/saga.bpmn --handlers examples/saga/handlers.py --var
card=declined`` to see the bookings undone in reverse order.
"""

from __future__ import annotations

from typing import Any

import legato
from legato import Job


@legato.handler("book-hotel")
def book_hotel(job: Job) -> dict[str, Any]:
    """Reserve the hotel (the job key makes a retried reservation the same one)."""
    return {"hotelBooking": f"H-{job.key}"}


@legato.handler("book-flight")
def book_flight(job: Job) -> dict[str, Any]:
    """Reserve the flight."""
    return {"flightBooking": f"F-{job.key}"}


@legato.handler("charge-card")
def charge_card(job: Job) -> dict[str, Any]:
    """Charge the card; a declined card is a business error the process handles."""
    if job.variables.get("card") == "declined":
        raise legato.BpmnError("CARD_DECLINED", "the card was declined")
    return {"charged": True}


@legato.handler("cancel-flight")
def cancel_flight(job: Job) -> dict[str, Any]:
    """Release the flight reservation."""
    return {"flightCancelled": job.variables["flightBooking"]}


@legato.handler("cancel-hotel")
def cancel_hotel(job: Job) -> dict[str, Any]:
    """Release the hotel reservation."""
    return {"hotelCancelled": job.variables["hotelBooking"]}
