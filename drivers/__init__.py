"""Device drivers for the gate station: one module per device, each with a fake for tests.

Hardware libraries (smbus2, cv2, serial, gpiozero) are imported only by the module that
drives that device, so importing one driver never pulls in another's dependencies.
"""
