"""The operations of Tango RaaS v2, one module per area; ``RaasClient`` has them all."""
