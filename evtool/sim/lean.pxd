# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Only the types its closures read fields of; every value stays a Python object.

from evtool.core.delivery cimport Delivery
from evtool.core.message cimport Message
from evtool.sim.consumer cimport ConsumerActor, Instance
from evtool.sim.context cimport ActorContext
from evtool.sim.kernel cimport Kernel
