// End-to-end tests start real brokers and gateway processes; on two cores they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
