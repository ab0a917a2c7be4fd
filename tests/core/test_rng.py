from mailsim.core.rng import RandomStreams


def test_a_stream_does_not_shift_when_another_is_added():
    alone = RandomStreams(7)
    first = alone.stream("workload").random(5)
    crowded = RandomStreams(7)
    crowded.stream("dns").random(100)
    crowded.stream("new-component").random(3)
    assert (crowded.stream("workload").random(5) == first).all()


def test_seeds_and_names_give_different_numbers():
    assert RandomStreams(1).stream("a").random() != RandomStreams(2).stream("a").random()
    streams = RandomStreams(1)
    assert streams.stream("a").random() != streams.stream("b").random()


def test_the_same_name_is_the_same_generator():
    streams = RandomStreams(3)
    assert streams.stream("x") is streams.stream("x")
    assert streams.names() == ["x"]
