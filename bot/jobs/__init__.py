"""Jobs: `isolation` (`ItemGuard`: one bad item never stops a job) and `slots`
(`JobSlots`: each tick of a job once across replicas, a split job's items leased to
whichever replica asks).
"""
