public enum ProxyScale: String, CaseIterable { case smoke, proxy }
