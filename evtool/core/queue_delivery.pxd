# Cython declarations for the compiled build (setup.py): the .py beside it is the source.

from evtool.core.delivery cimport Delivery
from evtool.core.message cimport Message
from evtool.core.queues cimport Entry, QueueState, Subscriber
from evtool.core.brokerstate cimport BrokerState
