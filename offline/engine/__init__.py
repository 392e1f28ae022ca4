"""Engine emulation: what the Pulumi engine and the language host do for a program -
read the project, run the program under mocks, record its registrations, answer its provider
functions and stack references, and shape what the engine would send a policy pack."""
