import Harness
import Routing
import Tensor

// Uses each product: the engine's RNG, the method registry, the task catalog.
var rng = RNG(seed: 1)
print("methods: \(MethodRegistry.names.joined(separator: ", "))")
print("text tasks: \(TaskCatalog.text.map(\.name).joined(separator: ", "))")
print("rng: \(rng.next() % 1000)")
