import Routing
import Data
