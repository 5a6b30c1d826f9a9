# Cython declarations for the optional compiled build (EVTOOL_COMPILE=1): the .py beside it is the source.

from evtool.core.brokerstate cimport BrokerState
